import {
  Bool,
  Field,
  Float64,
  Int32,
  Int64,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimeUnit,
  Timestamp,
  Utf8,
  makeData,
  tableToIPC,
  type Data,
  type DataType,
} from 'apache-arrow';
import {
  Compression,
  Encoding,
  Table as WasmTable,
  WriterPropertiesBuilder,
  writeParquet,
} from 'parquet-wasm/node';
import type { Column, ColumnType, LakeRow } from './columns.ts';

/**
 * Encodes rows into one Parquet object with parquet-wasm (the Rust parquet crate compiled to
 * WebAssembly), through Arrow columns built straight into typed arrays. Chosen by measurement
 * over parquetjs and @dsnp/parquetjs (bench/lake.ts): an order of magnitude more rows/s at under
 * 0.6 of the bytes. ZSTD pages; dictionaries for repeating strings and booleans, delta encodings
 * for integers and times, distinct strings plain; statistics for predicate pushdown. Every
 * encoding is one that Spark (Iceberg's vectorized reader), DuckDB, pyarrow and Trino read.
 * Output is a function of the rows alone, so re-encoding the same rows gives the same bytes.
 */
export function encodeParquet(columns: readonly Column[], rows: readonly LakeRow[]): Uint8Array {
  const fields = columns.map((c) => new Field(c.name, arrowType(c.type), c.nullable));
  const children = columns.map((c) => columnData(c, rows));
  const schema = new Schema(fields);
  const batch = new RecordBatch(
    schema,
    makeData({ type: new Struct(fields), length: rows.length, nullCount: 0, children }),
  );
  const table = WasmTable.fromIPCStream(tableToIPC(new Table(schema, [batch]), 'stream'));
  let properties = new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setDictionaryEnabled(true)
    .setCreatedBy('koo-pipeline lake version 2') // the form Parquet readers parse; 2: the position columns' names
    .setMaxRowGroupSize(Math.max(1, rows.length));
  // Offsets, LSNs and times mostly ascend: delta encoding shrinks them to a few bits each (half
  // the bytes per row in bench/lake.ts), where a dictionary of distinct values would not pay.
  // Strings whose values seldom repeat (the schema marks them distinct: keys, free text) carry a
  // dictionary as large as the data plus an index per row: they are written plain. Not
  // DELTA_LENGTH_BYTE_ARRAY, though smaller: Iceberg's vectorized Spark reader refuses it.
  for (const c of columns) {
    if (c.type === 'int32' || c.type === 'int64' || c.type === 'timestamp') {
      properties = properties
        .setColumnDictionaryEnabled(c.name, false)
        .setColumnEncoding(c.name, Encoding.DELTA_BINARY_PACKED);
    } else if (c.type === 'string' && c.distinct) {
      properties = properties
        .setColumnDictionaryEnabled(c.name, false)
        .setColumnEncoding(c.name, Encoding.PLAIN);
    }
  }
  return writeParquet(table, properties.build());
}

/** The text a string column stores for a value: structures as JSON. */
export function storedText(value: unknown): string {
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function arrowType(type: ColumnType): DataType {
  switch (type) {
    case 'string':
      return new Utf8();
    case 'boolean':
      return new Bool();
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'double':
      return new Float64();
    case 'timestamp':
      return new Timestamp(TimeUnit.MICROSECOND); // no zone: UTC by convention, TIMESTAMP in DuckDB
  }
}

function columnData(column: Column, rows: readonly LakeRow[]): Data {
  const n = rows.length;
  const validity = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  const each = (set: (i: number, v: unknown) => void) => {
    for (let i = 0; i < n; i++) {
      const v = rows[i]![column.name];
      if (v === null || v === undefined) {
        nullCount++;
        continue;
      }
      validity[i >> 3]! |= 1 << (i & 7);
      set(i, v);
    }
  };
  const type = arrowType(column.type);
  const common = () => ({ length: n, nullCount, nullBitmap: nullCount > 0 ? validity : null });
  switch (column.type) {
    case 'string': {
      const encoded: (Buffer | undefined)[] = new Array(n);
      let bytes = 0;
      each((i, v) => {
        const b = Buffer.from(storedText(v), 'utf8');
        encoded[i] = b;
        bytes += b.length;
      });
      const data = new Uint8Array(bytes);
      const valueOffsets = new Int32Array(n + 1);
      let at = 0;
      for (let i = 0; i < n; i++) {
        const b = encoded[i];
        if (b) {
          data.set(b, at);
          at += b.length;
        }
        valueOffsets[i + 1] = at;
      }
      return makeData({ type: type as Utf8, ...common(), data, valueOffsets });
    }
    case 'boolean': {
      const data = new Uint8Array((n + 7) >> 3);
      each((i, v) => {
        if (v) data[i >> 3]! |= 1 << (i & 7);
      });
      return makeData({ type: type as Bool, ...common(), data });
    }
    case 'int32': {
      const data = new Int32Array(n);
      each((i, v) => (data[i] = Number(v)));
      return makeData({ type: type as Int32, ...common(), data });
    }
    case 'double': {
      const data = new Float64Array(n);
      each((i, v) => (data[i] = Number(v)));
      return makeData({ type: type as Float64, ...common(), data });
    }
    case 'int64':
    case 'timestamp': {
      const data = new BigInt64Array(n);
      const scale = column.type === 'timestamp' ? 1000n : 1n; // rows carry milliseconds; files microseconds
      each((i, v) => (data[i] = BigInt(v as number | bigint | string) * scale));
      return makeData({ type: type as Int64, ...common(), data });
    }
  }
}
