import { afterAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import type { RunningWorker } from '../../shared/runtime/run-worker.ts';
import { compactHour, compactionCandidates, mergePartitionHour } from '../../workers/lake/compaction.ts';
import { SqlCatalog } from '../../workers/lake/iceberg/sql-catalog.ts';
import { currentSnapshot, parseMetadata } from '../../workers/lake/iceberg/table-metadata.ts';
import { hourPrefix } from '../../workers/lake/layout.ts';
import { lakeColumns } from '../../workers/lake/lake-rows.ts';
import {
  createLakeCatalog,
  createLakeStore,
  createLakeTables,
  lakeWorkerModule,
  loadLakeConfig,
} from '../../workers/lake/lake-worker.ts';
import { envelope, kooRow } from '../support/cdc-events.ts';
import { newId, runId } from '../support/ids.ts';
import pg from 'pg';
import {
  glueTestDatabases,
  lakeTestKafka,
  logEnds,
  privateCdcTopic,
  readLakeTable,
} from '../support/lake.ts';
import { stackEnv } from '../support/stack-env.ts';
import { startWorkerInProcess } from '../support/workers.ts';
import { committedByPartition } from '../../shared/kafka/consumer-lag.ts';
import { setOffsets, waitCommitted } from '../support/kafka.ts';

// The lake's Iceberg tables in the SQL catalog and in Glue, read back by pyiceberg, DuckDB
// (iceberg_scan) and Spark SQL from the stack's lake-readers venv: every committed record once,
// across a column added to the source table, through a compaction cut short after each step,
// unchanged by a replay, pruned by column bounds, and through merged manifests. The reactions'
// table (Avro, Glue): lake-iceberg-reactions.test.ts.

// Its own CDC topic: what the tables hold is this file's records only, whatever else writes koos.
const topic = privateCdcTopic(`test-iceberg-${runId}`);
const prefix = `test-iceberg-${runId}/`;
const catalogEnv = { LAKE_CATALOG_NAME: `test-${runId}` }; // the stack's catalog (LAKE_CATALOG_URL's default)
const ROTATE_ROWS = 20;
const hour = (h: number, minute: number) => Date.UTC(2026, 10, 27, h, minute);

const readTable = (...flags: string[]) => readLakeTable(topic, catalogEnv, ...flags);
const glueDatabase = `test_race_${runId}`;

describe('lake Iceberg tables (read by pyiceberg, DuckDB and Spark)', () => {
  const kafka = lakeTestKafka(topic, { create: true });
  const workers: RunningWorker[] = [];
  const start = (groupId: string) =>
    startWorkerInProcess(lakeWorkerModule, {
      ...catalogEnv,
      LAKE_GROUP_ID: groupId,
      LAKE_PREFIX: prefix,
      LAKE_TOPICS: topic,
      LAKE_ROTATE_ROWS: String(ROTATE_ROWS),
      LAKE_ROTATE_AGE_MS: '600000', // segments are cut by offset only: what the table holds is known
    }).then((w) => (workers.push(w), w));
  // What an operator's `koo lake compact` and `koo lake expire` use.
  const config = loadLakeConfig({ ...process.env, ...catalogEnv, LAKE_PREFIX: prefix, LAKE_TOPICS: topic });
  const store = createLakeStore(config);
  const tables = createLakeTables(config, store)!;
  glueTestDatabases([glueDatabase]);
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await tables.close();
    store.destroy();
  });

  it('holds every committed record once, across a column added to the source table, a compaction cut short, a replay and expiry', async () => {
    const groupId = `test-iceberg-${runId}`;
    await setOffsets(groupId, [{ topic, partitions: kafka.startOffsets }]);
    const first = await start(groupId);

    // 100 changes of one key (one partition) over three hours; the last 40 carry a column the
    // lake's schema for koos does not name (added to the source table).
    const key = newId();
    const sent = await kafka.producer.send({
      topic,
      messages: Array.from({ length: 100 }, (_, i) => {
        const row = kooRow(key, { body: `edit ${i}`, ...(i >= 60 ? { mood: 'calm' } : {}) });
        const changedAt = hour(8 + Math.floor(i / 40), i % 60);
        return { key, value: JSON.stringify(envelope('koos', 'u', null, row, 50_000 + i, changedAt)) };
      }),
    });
    const { partition, baseOffset } = sent[0]!;
    const from = BigInt(baseOffset!);
    // Segments close at multiples of ROTATE_ROWS; the one holding the last record stays open.
    const closedThrough = ((from + 99n) / BigInt(ROTATE_ROWS)) * BigInt(ROTATE_ROWS);
    const held = Number(closedThrough - from);
    const heldWithMood = Math.max(0, held - 60);

    await waitCommitted(kafka.admin, groupId, topic, [{ partition, offset: closedThrough }]);
    const read = await readTable();
    expect(read).toMatchObject({ pyiceberg_rows: held, duckdb_rows: held, duplicate_positions: 0 });
    // The added column reads across files written before and after it: null before, its value after.
    expect(read.non_null).toMatchObject({ content_id: held, mood: heldWithMood });
    // Time travel: as of the first snapshot, the table held the first segment only. Spark SQL
    // (Iceberg's JdbcCatalog) reads the same, across the added column too.
    const firstSegment = Number((from / BigInt(ROTATE_ROWS) + 1n) * BigInt(ROTATE_ROWS) - from);
    const asOfFirst = await readTable('--as-of-first', '--spark', `--where=content_id=${key}`);
    expect(asOfFirst).toMatchObject({
      first_snapshot_pyiceberg_rows: firstSegment,
      first_snapshot_duckdb_rows: firstSegment,
      first_snapshot_spark_rows: firstSegment,
      spark_rows: held,
      spark_duplicate_positions: 0,
    });
    expect(asOfFirst.spark_non_null).toMatchObject({ content_id: held, mood: heldWithMood });
    // A filter on the koo's id reads every file (their bounds hold it); another id reads none:
    // the manifests' column bounds prune them, and each reader still counts right.
    expect(asOfFirst).toMatchObject({
      where_files: asOfFirst.files,
      where_pyiceberg_rows: held,
      where_duckdb_rows: held,
      where_spark_rows: held,
    });
    expect(await readTable(`--where=content_id=${newId()}`)).toMatchObject({
      where_files: 0,
      where_pyiceberg_rows: 0,
      where_duckdb_rows: 0,
    });
    await first.close();

    // Compaction of hour 08 (records 0-39, in two or three segment files), cut short after each
    // step: Iceberg readers see the old files or the merged one, never both, and no row is lost.
    const committed = await committedByPartition(kafka.admin, groupId, topic);
    const hour8 = { prefix, topic, dt: '2026-11-27', hr: '08', committed, columns: lakeColumns(topic) };
    const hourObjects = () => store.listAll(hourPrefix(prefix, topic, hour8));
    {
      const before = await hourObjects();
      expect(before.length).toBeGreaterThan(1);
      const candidates = compactionCandidates(prefix, before, committed).get(partition)!;
      const merged = (await mergePartitionHour(store, hour8, partition, candidates))!; // step 1 only
      expect(await readTable()).toMatchObject({
        pyiceberg_rows: held,
        duckdb_rows: held,
        duplicate_positions: 0,
      });
      const swap = {
        deleted: merged.deleted,
        added: {
          key: merged.key,
          records: merged.rows,
          bytes: merged.bytes,
          eventHourMs: hour(8, 0),
          metrics: merged.metrics,
        },
      };
      expect(await tables.replace(topic, swap)).toBe('committed'); // step 2, then the crash
      const swapped = await readTable();
      expect(swapped).toMatchObject({
        pyiceberg_rows: held,
        duckdb_rows: held,
        duplicate_positions: 0,
        snapshots: read.snapshots + 1,
      });
      await compactHour(store, hour8, tables); // the re-run deletes what the merged object covers
      expect((await hourObjects()).map((o) => o.key)).toEqual([merged.key]);
      expect(await readTable()).toMatchObject({
        pyiceberg_rows: held,
        duplicate_positions: 0,
        snapshots: swapped.snapshots,
      });
    }

    // A replay from where the file began re-cuts the same segments: the table already holds them.
    const replayGroup = `${groupId}-replay`;
    await setOffsets(replayGroup, [{ topic, partitions: kafka.startOffsets }]);
    await start(replayGroup);
    await waitCommitted(kafka.admin, replayGroup, topic, [{ partition, offset: closedThrough }]);
    expect(await readTable()).toMatchObject({
      pyiceberg_rows: held,
      duckdb_rows: held,
      duplicate_positions: 0,
      snapshots: read.snapshots + 1,
    });

    // Expiry keeps the current snapshot and the files it needs, and deletes the rest of the metadata.
    {
      const metadataFiles = () => store.listAll(`${prefix}_iceberg/${topic}/metadata/`);
      const before = (await metadataFiles()).length;
      const removed = await tables.expire(topic, Date.now() + 1, 0);
      expect(removed.snapshots).toBe(read.snapshots);
      expect(removed.files).toBeGreaterThan(0);
      expect((await metadataFiles()).length).toBeLessThan(before);
      expect(await readTable()).toMatchObject({ pyiceberg_rows: held, duckdb_rows: held, snapshots: 1 });
    }
  });

  it.each([
    ['sql', { ...catalogEnv, LAKE_CATALOG_NAME: `test-race-${runId}` }],
    ['glue', { LAKE_CATALOG_URL: `glue://${glueDatabase}` }],
  ])(
    'adds a segment once when two members commit it at the same time, and never behind a later one (%s)',
    async (kind, raceCatalog) => {
      // Two members' commits of their own (each with its catalog connection), as after a rebalance
      // where the old owner of a partition keeps running.
      const config = loadLakeConfig({
        ...process.env,
        ...raceCatalog,
        LAKE_PREFIX: `${prefix}race-${kind}/`,
        LAKE_TOPICS: topicNames.reactions,
      });
      const store = createLakeStore(config);
      const [a, b] = [createLakeTables(config, store)!, createLakeTables(config, store)!];
      const segment = (partition: number, nextOffset: bigint) => ({
        topic: topicNames.reactions,
        partition,
        nextOffset,
        columns: lakeColumns(topicNames.reactions),
        files: [
          {
            key: `${prefix}race-${kind}/p${partition}-${nextOffset}.parquet`,
            records: 10,
            bytes: 500,
            eventHourMs: hour(8, 0),
            metrics: new Map(),
          },
        ],
      });
      try {
        const same = await Promise.all([a.append(segment(0, 100n)), b.append(segment(0, 100n))]);
        expect(same.sort()).toEqual(['committed', 'held']);
        // Different partitions at once: the loser of the swap builds again on the winner's commit.
        expect(await Promise.all([a.append(segment(1, 50n)), b.append(segment(2, 70n))])).toEqual([
          'committed',
          'committed',
        ]);
        expect(await a.append(segment(0, 200n))).toBe('committed');
        expect(await b.append(segment(0, 100n))).toBe('held'); // the old owner, late
        // Segments a member cuts together go in one snapshot; one the table holds is left out.
        expect(
          await Promise.all([
            a.append(segment(3, 30n)),
            a.append(segment(4, 40n)),
            a.append(segment(0, 150n)),
          ]),
        ).toEqual(['committed', 'committed', 'held']);
        const catalog = createLakeCatalog(config)!;
        const location = (await catalog.metadataLocation(catalog.tableOf(topicNames.reactions)))!;
        await catalog.close();
        const metadata = parseMetadata(
          Buffer.from(await store.get(location.replace(/^s3:\/\/[^/]+\//, ''))).toString(),
        );
        expect(metadata.snapshots).toHaveLength(5);
        expect(currentSnapshot(metadata)!.summary).toMatchObject({
          'added-data-files': '2',
          'total-records': '60',
          'koo.next-offset.0': '200',
          'koo.next-offset.1': '50',
          'koo.next-offset.2': '70',
          'koo.next-offset.3': '30',
          'koo.next-offset.4': '40',
        });
      } finally {
        await Promise.all([a.close(), b.close()]);
        store.destroy();
      }
    },
  );

  it('merges the manifests from the 100th commit on: readers open few, and every row is there once', async () => {
    const groupId = `test-iceberg-merge-${runId}`;
    const mergeEnv = { LAKE_CATALOG_NAME: `test-merge-${runId}` };
    await setOffsets(groupId, [{ topic, partitions: await logEnds(kafka.admin, topic) }]);
    // One record a segment: each change is a commit of its own.
    await startWorkerInProcess(lakeWorkerModule, {
      ...mergeEnv,
      LAKE_GROUP_ID: groupId,
      LAKE_PREFIX: `${prefix}merge/`,
      LAKE_TOPICS: topic,
      LAKE_ROTATE_ROWS: '1',
      LAKE_ROTATE_AGE_MS: '600000',
    }).then((w) => workers.push(w));
    const key = newId();
    const changes = 120;
    const [sent] = await kafka.producer.send({
      topic,
      messages: Array.from({ length: changes }, (_, i) => ({
        key,
        value: JSON.stringify(envelope('koos', 'u', null, kooRow(key, { body: `edit ${i}` }), 90_000 + i)),
      })),
    });
    const held = changes - 1; // the last record's segment stays open
    const offset = BigInt(sent!.baseOffset!) + BigInt(held);
    await waitCommitted(kafka.admin, groupId, topic, [{ partition: sent!.partition, offset }], 120_000);
    const read = await readLakeTable(topic, mergeEnv);
    expect(read).toMatchObject({
      pyiceberg_rows: held,
      duckdb_rows: held,
      duplicate_positions: 0,
      snapshots: held,
    });
    // Merged at the 100th commit: 100 small manifests became one; 19 commits followed.
    expect(read.manifests).toBe(21);
    // Iceberg's own (Java) reader takes the merged manifest's EXISTING entries too.
    expect(await readLakeTable(topic, mergeEnv, '--spark')).toMatchObject({
      spark_rows: held,
      spark_duplicate_positions: 0,
    });
  });

  it('lets many replicas start on a new catalog database at once (its tables are created once)', async () => {
    const database = `test_catalog_${runId}`;
    const admin = new pg.Pool({ connectionString: stackEnv.pgUrl, max: 1 });
    await admin.query(`create database ${database}`);
    const url = `${stackEnv.pgUrl.replace(/\/[^/]*$/, '')}/${database}`;
    const catalogs = Array.from({ length: 8 }, () => new SqlCatalog(url, 'koo'));
    try {
      const found = await Promise.allSettled(catalogs.map((c) => c.metadataLocation(c.tableOf(topic))));
      expect(found.map((f) => (f.status === 'fulfilled' ? 'ok' : String(f.reason)))).toEqual(
        Array(8).fill('ok'),
      );
    } finally {
      await Promise.all(catalogs.map((c) => c.close()));
      await admin.query(`drop database ${database}`);
      await admin.end();
    }
  });
});
