import { tableFromIPC } from 'apache-arrow';
import { ParquetFile, readParquet } from 'parquet-wasm/node';
import type { LakeRow } from './columns.ts';

/**
 * Rows of a lake object as the encoder takes them (int64 as bigint, timestamps as epoch
 * milliseconds), with the names of the columns the object has (older objects may lack newer ones).
 */
export function decodeParquet(bytes: Uint8Array): { columns: string[]; rows: LakeRow[] } {
  const table = tableFromIPC(readParquet(bytes).intoIPCStream());
  const columns = table.schema.fields.map((f) => f.name);
  const vectors = columns.map((name) => table.getChild(name)!);
  const rows: LakeRow[] = new Array(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    const row: LakeRow = {};
    for (let c = 0; c < columns.length; c++) row[columns[c]!] = vectors[c]!.get(i);
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
