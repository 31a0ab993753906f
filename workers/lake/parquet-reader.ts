import { tableFromIPC, Type, type Field } from 'apache-arrow';
import { ParquetFile, readParquet } from 'parquet-wasm/node';
import type { Column, ColumnType, LakeRow } from './columns.ts';

/** The lake column type an object's field was written as (parquet-encoder.ts writes only these). */
function columnTypeOf(field: Field): ColumnType {
  switch (field.typeId) {
    case Type.Utf8:
    case Type.LargeUtf8:
      return 'string';
    case Type.Bool:
      return 'boolean';
    case Type.Int:
      return field.type.bitWidth === 64 ? 'int64' : 'int32';
    case Type.Float:
      return 'double';
    case Type.Timestamp:
      return 'timestamp';
    default:
      throw new Error(`lake object column ${field.name} has a type the lake does not write (${field.type})`);
  }
}

/**
 * What the Kafka position columns were named in objects written before the lake's tables:
 * Iceberg reserves `_partition` (Spark refuses a table with such a column), so they were renamed.
 */
const positionColumnsBefore: Readonly<Record<string, string>> = {
  _partition: '_kafka_partition',
  _offset: '_kafka_offset',
};

/**
 * Rows of a lake object as the encoder takes them (int64 as bigint, timestamps as epoch
 * milliseconds), with the columns the object has (older objects may lack newer ones; an object
 * may have columns a source table gained after its schema here was written). An older object's
 * position columns are read under today's names, so compaction and rebuilds take it as it is.
 */
export function decodeParquet(bytes: Uint8Array): { columns: Column[]; rows: LakeRow[] } {
  const table = tableFromIPC(readParquet(bytes).intoIPCStream());
  const names = new Set(table.schema.fields.map((f) => f.name));
  const nameOf = (written: string) => {
    const renamed = positionColumnsBefore[written];
    return renamed && !names.has(renamed) ? renamed : written;
  };
  const columns = table.schema.fields.map((f) => ({
    name: nameOf(f.name),
    type: columnTypeOf(f),
    nullable: f.nullable,
  }));
  const vectors = table.schema.fields.map((f) => table.getChild(f.name)!);
  const rows: LakeRow[] = new Array(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    const row: LakeRow = {};
    for (let c = 0; c < columns.length; c++) row[columns[c]!.name] = vectors[c]!.get(i);
    rows[i] = row;
  }
  return { columns, rows };
}

/**
 * The row count in an object's footer, read without fetching the object: parquet-wasm reads a
 * Blob through `slice().arrayBuffer()` (the tail, the footer, the page index), so a view that
 * answers those with ranged reads stands in for the whole object.
 */
export async function footerRowCount(
  size: number,
  read: (start: number, end: number) => Promise<Uint8Array>,
): Promise<number> {
  const blob = {
    size,
    slice: (start: number, end: number) => ({
      arrayBuffer: async () => {
        const bytes = await read(start, end);
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      },
    }),
  };
  const file = await ParquetFile.fromFile(blob as unknown as Blob);
  try {
    return file.metadata().fileMetadata().numRows();
  } finally {
    file.free();
  }
}
