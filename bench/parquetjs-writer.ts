import { Writable } from 'node:stream';
import type { Column, ColumnType, LakeRow } from '../workers/lake/columns.ts';

/**
 * The baseline the lake's writer is measured against: the parquetjs API (parquetjs, and its
 * maintained fork @dsnp/parquetjs with the same API), given the same columns and rows, with its
 * best-compressing codec (GZIP) and the rows of one object in one row group.
 */
interface ParquetjsModule {
  ParquetSchema: new (fields: Record<string, unknown>) => unknown;
  ParquetWriter: {
    openStream(
      schema: unknown,
      out: Writable,
      opts?: Record<string, unknown>,
    ): Promise<{ appendRow(row: LakeRow): Promise<void>; close(): Promise<void> }>;
  };
}

const types: Record<ColumnType, string> = {
  string: 'UTF8',
  boolean: 'BOOLEAN',
  int32: 'INT32',
  int64: 'INT64',
  double: 'DOUBLE',
  timestamp: 'TIMESTAMP_MILLIS',
};

export function parquetjsEncoder(lib: ParquetjsModule) {
  return async (columns: readonly Column[], rows: readonly LakeRow[]): Promise<Uint8Array> => {
    const schema = new lib.ParquetSchema(
      Object.fromEntries(
        columns.map((c) => [c.name, { type: types[c.type], optional: c.nullable, compression: 'GZIP' }]),
      ),
    );
    const chunks: Buffer[] = [];
    // parquetjs closes its stream with fs.WriteStream's close(callback).
    const out = Object.assign(
      new Writable({
        write(chunk: Buffer, _enc, done) {
          chunks.push(chunk);
          done();
        },
      }),
      { close: (done: (err?: Error) => void) => done() },
    );
    const writer = await lib.ParquetWriter.openStream(schema, out, { rowGroupSize: rows.length });
    for (const row of rows) {
      // parquetjs leaves out optional fields rather than taking null; 64-bit ints as numbers.
      const clean: LakeRow = {};
      for (const c of columns) {
        const v = row[c.name];
        if (v !== null && v !== undefined) clean[c.name] = c.type === 'int64' ? Number(v) : v;
      }
      await writer.appendRow(clean);
    }
    await writer.close();
    return Buffer.concat(chunks);
  };
}
