import type { Column, LakeRow } from '../columns.ts';
import { storedText } from '../parquet-encoder.ts';

/**
 * A data file's metrics for one column, as Iceberg's manifests carry them: the values (nulls
 * included), the nulls, and bounds in the spec's single-value binary form, by which readers skip
 * files a filter cannot match (`content_id = '…'` opens only the files whose bounds hold it).
 * https://iceberg.apache.org/spec/#binary-single-value-serialization
 */
export interface ColumnMetrics {
  values: number;
  nulls: number;
  lower?: Buffer;
  upper?: Buffer;
}

/** Iceberg's default metrics mode, truncate(16): string bounds keep 16 code points. */
const STRING_BOUND_CODE_POINTS = 16;

/**
 * Pure: the metrics of each column over a file's rows, from the values as parquet-encoder.ts
 * stores them (strings and JSON text, integers, timestamps in microseconds). A column whose
 * bounds cannot be told exactly (a NaN among doubles) gets counts only.
 */
export function columnMetrics(
  columns: readonly Column[],
  rows: readonly LakeRow[],
): Map<string, ColumnMetrics> {
  return new Map(columns.map((c) => [c.name, metricsOf(c, rows)]));
}

function metricsOf(column: Column, rows: readonly LakeRow[]): ColumnMetrics {
  const present = rows.map((r) => r[column.name]).filter((v) => v !== null && v !== undefined);
  const counts = { values: rows.length, nulls: rows.length - present.length };
  if (present.length === 0) return counts;
  switch (column.type) {
    case 'string': {
      const utf8 = present.map((v) => Buffer.from(storedText(v), 'utf8'));
      // UTF-8 byte order is code point order, the order Iceberg compares strings in.
      const [lower, upper] = extremes(utf8, Buffer.compare);
      const upperBound = truncatedUpper(upper.toString('utf8'));
      return {
        ...counts,
        lower: Buffer.from(truncated(lower.toString('utf8')), 'utf8'),
        ...(upperBound === undefined ? {} : { upper: Buffer.from(upperBound, 'utf8') }),
      };
    }
    case 'boolean': {
      const [lower, upper] = extremes(
        present.map((v) => (v ? 1 : 0)),
        (a, b) => a - b,
      );
      return { ...counts, lower: Buffer.of(lower), upper: Buffer.of(upper) };
    }
    case 'int32': {
      const [lower, upper] = extremes(present.map(Number), (a, b) => a - b);
      return { ...counts, lower: int32(lower), upper: int32(upper) };
    }
    case 'double': {
      const values = present.map(Number);
      if (values.some(Number.isNaN)) return counts;
      // -0 before 0, as Iceberg orders doubles.
      const [lower, upper] = extremes(values, (a, b) =>
        a !== b ? a - b : Number(Object.is(b, -0)) - Number(Object.is(a, -0)),
      );
      return { ...counts, lower: float64(lower), upper: float64(upper) };
    }
    case 'int64':
    case 'timestamp': {
      const scale = column.type === 'timestamp' ? 1000n : 1n; // rows carry milliseconds; files microseconds
      const [lower, upper] = extremes(
        present.map((v) => BigInt(v as number | bigint | string) * scale),
        (a, b) => (a < b ? -1 : a > b ? 1 : 0),
      );
      return { ...counts, lower: int64(lower), upper: int64(upper) };
    }
  }
}

function extremes<T>(values: readonly T[], compare: (a: T, b: T) => number): [T, T] {
  let lower = values[0] as T;
  let upper = values[0] as T;
  for (const v of values) {
    if (compare(v, lower) < 0) lower = v;
    if (compare(v, upper) > 0) upper = v;
  }
  return [lower, upper];
}

/** A prefix is at most the string: a lower bound as it is. */
function truncated(value: string): string {
  return [...value].slice(0, STRING_BOUND_CODE_POINTS).join('');
}

/**
 * An upper bound of 16 code points at least `value`: the value itself when it is that short, else
 * its prefix with the last code point that can be raised raised by one (Iceberg's
 * truncateStringMax); undefined when none can (then the file has no upper bound for the column).
 */
export function truncatedUpper(value: string): string | undefined {
  const points = [...value].map((c) => c.codePointAt(0)!);
  if (points.length <= STRING_BOUND_CODE_POINTS) return value;
  for (let i = STRING_BOUND_CODE_POINTS - 1; i >= 0; i--) {
    let next = points[i]! + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000; // surrogates are not code points of text
    if (next <= 0x10ffff) return String.fromCodePoint(...points.slice(0, i), next);
  }
  return undefined;
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}

function int64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(n);
  return b;
}

function float64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(n);
  return b;
}
