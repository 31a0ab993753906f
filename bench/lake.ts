import { createRequire } from 'node:module';
import { topicNames } from '../schemas/topics.ts';
import { Random } from '../apps/synthetic/random.ts';
import { languageSkew } from '../apps/synthetic/source-workload.ts';
import type { Column, LakeRow } from '../workers/lake/columns.ts';
import { cdcColumns, cdcRecord } from '../workers/lake/lake-rows.ts';
import { encodeParquet } from '../workers/lake/parquet-encoder.ts';
import { benchLakeCommits } from './lake-commits.ts';
import { parquetjsEncoder } from './parquetjs-writer.ts';
import { round, type Figures } from './report.ts';

/**
 * npm run bench -- lake
 * The same koo change events (Debezium JSON, decoded by the lake's own decoder) encoded into
 * objects of BENCH_LAKE_ROWS_PER_OBJECT rows by each Parquet writer, in one run: rows/s of
 * encoding (columns built, compressed, serialized) and bytes per row of the objects; then what
 * the Iceberg commits add to a segment's cut (bench/lake-commits.ts).
 */
type Encode = (columns: readonly Column[], rows: readonly LakeRow[]) => Uint8Array | Promise<Uint8Array>;

function koosWorkload(count: number, seed: number): LakeRow[] {
  const rnd = new Random(seed);
  const users = Array.from({ length: Math.max(10, count / 50) }, () => rnd.id());
  const ids: string[] = [];
  const start = Date.UTC(2026, 10, 27, 8);
  return Array.from({ length: count }, (_, i) => {
    const id = rnd.id();
    const creator = users[Math.floor(users.length * rnd.next() ** 2)]!;
    const at = new Date(start + i * 37).toISOString().replace('Z', '123Z'); // Debezium: microseconds
    const row = {
      content_id: id,
      creator_id: creator,
      parent_id: ids.length > 0 && rnd.next() < 0.25 ? ids[Math.max(0, ids.length - 1 - rnd.int(50))]! : null,
      lang: rnd.weighted(languageSkew),
      body: `koo ${i}: ${'a quick brown fox jumps over the lazy dog '.slice(0, 10 + rnd.int(30))}`,
      media_url: rnd.next() < 0.3 ? `s3://koo-media/${creator}/img_${rnd.int(1e6)}.jpg` : null,
      created_at: at,
      updated_at: at,
    };
    ids.push(id);
    const value = {
      before: null,
      after: row,
      source: {
        version: '3.6.1.Final',
        connector: 'postgresql',
        name: 'koo',
        ts_ms: start + i * 37,
        snapshot: 'false',
        db: 'koo',
        schema: 'public',
        table: 'koos',
        txId: 1000 + i,
        lsn: 26_000_000 + i * 120,
      },
      op: 'c',
      ts_ms: start + i * 37 + 5,
    };
    const decoded = cdcRecord(
      {
        topic: topicNames.koos,
        partition: 0,
        offset: String(i),
        key: Buffer.from(id),
        value: Buffer.from(JSON.stringify(value)),
        timestamp: String(start + i * 37),
        headers: {},
      },
      'koos',
    );
    if (!decoded) throw new Error('bench: the workload does not decode');
    return decoded.row;
  });
}

async function measure(
  label: string,
  encode: Encode,
  columns: Column[],
  rows: LakeRow[],
  perObject: number,
): Promise<Figures> {
  await encode(columns, rows.slice(0, Math.min(1000, rows.length))); // warm-up (JIT, WebAssembly instantiation)
  let bytes = 0;
  const started = performance.now();
  for (let i = 0; i < rows.length; i += perObject)
    bytes += (await encode(columns, rows.slice(i, i + perObject))).length;
  const seconds = (performance.now() - started) / 1000;
  return {
    writer: label,
    rows: rows.length,
    rows_per_s: Math.round(rows.length / seconds),
    bytes_per_row: round(bytes / rows.length, 1),
  };
}

export async function benchLake(): Promise<Figures[]> {
  const count = Number(process.env.BENCH_LAKE_ROWS ?? 100_000);
  const perObject = Number(process.env.BENCH_LAKE_ROWS_PER_OBJECT ?? 25_000);
  const rows = koosWorkload(count, Number(process.env.BENCH_SEED ?? 42));
  const columns = cdcColumns('koos');
  const require = createRequire(import.meta.url);
  const writers: [string, Encode][] = [
    ['parquet-wasm + apache-arrow (lake)', encodeParquet],
    ['parquetjs 0.11 (baseline)', parquetjsEncoder(require('parquetjs'))],
    ['@dsnp/parquetjs 1.8 (maintained fork)', parquetjsEncoder(require('@dsnp/parquetjs'))],
  ];
  const results: Figures[] = [];
  for (const [label, encode] of writers) results.push(await measure(label, encode, columns, rows, perObject));
  const [chosen, baseline] = results;
  results.push({
    writer: 'summary (lake vs parquetjs)',
    speedup: round(Number(chosen!.rows_per_s) / Number(baseline!.rows_per_s), 2),
    bytes_ratio: round(Number(chosen!.bytes_per_row) / Number(baseline!.bytes_per_row), 3),
  });
  // Segments of 4,000 rows (two hour files of 2,000) for the commit figures.
  results.push(...(await benchLakeCommits(columns, rows.slice(0, 4_000))));
  return results;
}
