import { randomBytes } from 'node:crypto';
import type { Column, LakeRow } from '../workers/lake/columns.ts';
import type { SegmentFiles } from '../workers/lake/iceberg/lake-tables.ts';
import { hourStartMs, objectKey } from '../workers/lake/layout.ts';
import { createLakeStore, createLakeTables, loadLakeConfig } from '../workers/lake/lake-worker.ts';
import { columnMetrics } from '../workers/lake/iceberg/column-metrics.ts';
import { encodeParquet } from '../workers/lake/parquet-encoder.ts';
import { latencyFigures, percentile, round, type Figures } from './report.ts';

/**
 * What the Iceberg tables add to the lake worker's cut, on the local stack (moto's S3, the
 * catalog in PostgreSQL): BENCH_LAKE_COMMITS segments of two hour files each are uploaded as
 * the lake uploads them (the baseline: the cut without a table), then appended to a fresh table
 * one commit per segment; then one compaction swaps all of the first hour's files for one.
 * A commit rewrites the manifest list and the metadata file, which grow with the table's
 * history: the first and last tenth of the commits are reported apart.
 */
export async function benchLakeCommits(
  columns: readonly Column[],
  rows: readonly LakeRow[],
): Promise<Figures[]> {
  const commits = Number(process.env.BENCH_LAKE_COMMITS ?? 60);
  const run = randomBytes(4).toString('hex');
  const topic = 'koo.public.koos';
  const config = loadLakeConfig({
    ...process.env,
    LAKE_PREFIX: `bench-iceberg-${run}/`,
    LAKE_CATALOG_NAME: `bench-${run}`,
    LAKE_TOPICS: topic,
  });
  const store = createLakeStore(config);
  const tables = createLakeTables(config, store);
  if (!tables)
    throw new Error('bench lake: LAKE_CATALOG_URL is empty; the commit benchmark needs the catalog');
  const half = Math.floor(rows.length / 2);
  const halves = [rows.slice(0, half), rows.slice(half)];
  const bodies = halves.map((h) => encodeParquet(columns, h));
  // Each file's column metrics go in its manifest entry, as the lake worker writes them.
  const metrics = halves.map((h) => columnMetrics(columns, h));
  const hours = [
    { dt: '2026-11-27', hr: '08' },
    { dt: '2026-11-27', hr: '09' },
  ];
  const uploadMs: number[] = [];
  const commitMs: number[] = [];
  try {
    for (let i = 0; i < commits; i++) {
      const first = BigInt(i * rows.length);
      const files: SegmentFiles['files'] = hours.map((hour, h) => ({
        key: objectKey(config.LAKE_PREFIX, topic, 0, { ...hour, firstOffset: first + BigInt(h * half) }),
        records: h === 0 ? half : rows.length - half,
        bytes: bodies[h]!.length,
        eventHourMs: hourStartMs(hour),
        metrics: metrics[h]!,
      }));
      let started = performance.now();
      await Promise.all(
        files.map((f, h) =>
          store.put(f.key, bodies[h]!, {
            lastOffset: first + BigInt(rows.length - 1),
            condition: { ifNoneMatch: '*' },
          }),
        ),
      );
      uploadMs.push(performance.now() - started);
      started = performance.now();
      await tables.append({ topic, partition: 0, nextOffset: first + BigInt(rows.length), columns, files });
      commitMs.push(performance.now() - started);
    }
    const firstHour = (await store.listAll(`${config.LAKE_PREFIX}${topic}/dt=2026-11-27/hr=08/`)).map(
      (o) => o.key,
    );
    const started = performance.now();
    await tables.replace(topic, {
      deleted: firstHour,
      added: {
        key: `${config.LAKE_PREFIX}merged.parquet`,
        records: half * commits,
        bytes: 1,
        eventHourMs: 0,
        metrics: new Map(),
      },
    });
    const replaceMs = performance.now() - started;
    const metadataBytes = (await store.listAll(`${config.LAKE_PREFIX}_iceberg/`)).reduce(
      (n, o) => n + o.size,
      0,
    );
    const tenth = Math.max(1, Math.floor(commits / 10));
    return [
      {
        writer: 'cut without a table: 2 objects uploaded (baseline)',
        segments: commits,
        ...latencyFigures(uploadMs),
      },
      {
        writer: 'Iceberg append: 1 commit per segment (2 files)',
        segments: commits,
        files_per_commit: 2,
        ...latencyFigures(commitMs),
        first_tenth_p50_ms: round(median(commitMs.slice(0, tenth))),
        last_tenth_p50_ms: round(median(commitMs.slice(-tenth))),
        metadata_bytes_per_commit: Math.round(metadataBytes / (commits + 1)),
      },
      {
        writer: `Iceberg replace: compaction of ${firstHour.length} files into 1`,
        segments: commits,
        p50_ms: round(replaceMs),
      },
    ];
  } finally {
    await tables.close();
    store.destroy();
  }
}

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}
