import { CreateDatabaseCommand, DeleteDatabaseCommand, GlueClient } from '@aws-sdk/client-glue';
import { DuckDBInstance } from '@duckdb/node-api';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Admin, Producer } from 'kafkajs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { mapConcurrent } from '../../shared/runtime/backoff.ts';
import { LakeStore, type LakeObject } from '../../workers/lake/lake-store.ts';
import { logEnds } from '../../shared/kafka/consumer-lag.ts';
import { topicNames, topics } from '../../schemas/topics.ts';
import { testKafka } from './kafka.ts';
import { stackEnv } from './stack-env.ts';
import { waitFor } from './wait-for.ts';

export { logEnds };

export const lakeBucket = process.env.LAKE_BUCKET ?? 'koo-lake';

export function testLakeStore(): LakeStore {
  return new LakeStore({
    region: stackEnv.awsRegion,
    endpoint: stackEnv.s3Endpoint,
    bucket: lakeBucket,
    partBytes: 5 * 1024 * 1024,
  });
}

/**
 * A lake test's Kafka, connected before the file's tests and closed after them: an admin, a
 * producer of raw CDC envelopes, and where `topic` ended before the test wrote anything (a group
 * set there reads only this run). With `create`, the file's own topic is created first, as
 * koo.public.koos is (and deleted after): what the lake holds of it is this file's records alone,
 * whatever runs beside.
 */
export function lakeTestKafka(topic: string, { create = false } = {}) {
  const kafka = {} as {
    admin: Admin;
    producer: Producer;
    startOffsets: { partition: number; offset: string }[];
  };
  beforeAll(async () => {
    const client = testKafka();
    kafka.admin = client.admin();
    kafka.producer = client.producer();
    await Promise.all([kafka.admin.connect(), kafka.producer.connect()]);
    if (create) await createTestTopics(kafka.admin, [topic]);
    kafka.startOffsets = await logEnds(kafka.admin, topic);
  });
  afterAll(async () => {
    if (create) await deleteTestTopics(kafka.admin, [topic]);
    await Promise.all([kafka.admin?.disconnect(), kafka.producer?.disconnect()]);
  });
  return kafka;
}

/** A file's own topics, configured as koo.public.koos is, ready once their leaders answer ListOffsets. */
export async function createTestTopics(admin: Admin, names: readonly string[]): Promise<void> {
  const { partitions, config } = topics.find((t) => t.name === topicNames.koos)!;
  await admin.createTopics({
    topics: names.map((topic) => ({
      topic,
      numPartitions: partitions,
      configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
    })),
    waitForLeaders: true,
  });
  // A new topic's leaders can reach the broker's metadata after createTopics returns: until
  // then ListOffsets answers "not the leader" (seen with two files creating topics at once).
  for (const topic of names)
    await waitFor(`${topic}'s log ends`, () => logEnds(admin, topic), { timeoutMs: 30_000 });
}

export async function deleteTestTopics(admin: Admin | undefined, names: readonly string[]): Promise<void> {
  await admin?.deleteTopics({ topics: [...names] }).catch(() => undefined);
}

/**
 * A Debezium topic of a source table of this run's own (`<server>.public.<table>`: the lake
 * reads a CDC topic of any server name, as Debezium's `topic.prefix` sets it): a lake test's
 * worker then takes in, and the test counts, that file's records alone.
 */
export function privateCdcTopic(server: string, table = 'koos'): string {
  return `${server}.public.${table}`;
}

/**
 * Glue databases of the file's own in the stack's Glue (moto, beside its S3; GLUE_ENDPOINT's
 * default), created before its tests and dropped after them: in AWS the CloudFormation stack
 * creates the database, the lake worker its tables.
 */
export function glueTestDatabases(names: readonly string[]): void {
  const glue = new GlueClient({
    endpoint: stackEnv.motoEndpoint,
    region: stackEnv.awsRegion,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  beforeAll(() =>
    Promise.all(names.map((Name) => glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name } })))),
  );
  afterAll(async () => {
    await Promise.all(names.map((Name) => glue.send(new DeleteDatabaseCommand({ Name }))));
    glue.destroy();
  });
}

/** The objects below `prefix`, in key order: what they are, not when they were last written. */
export async function listKeys(store: LakeStore, prefix: string): Promise<Omit<LakeObject, 'modifiedMs'>[]> {
  return (await store.listAll(prefix))
    .map(({ modifiedMs: _, ...object }) => object)
    .sort((a, b) => a.key.localeCompare(b.key));
}

/**
 * A local copy of the lake below `prefix`, queried with DuckDB. DuckDB reads S3 through its
 * httpfs extension, which it downloads on first use; these machines are offline, so tests read
 * the objects from disk with the same layout (hive partitioning works the same).
 */
export async function lakeSnapshot(store: LakeStore, prefix: string) {
  const mirror = new LakeMirror(store, prefix);
  const snapshot = await mirror.snapshot();
  return {
    ...snapshot,
    close: async () => {
      await snapshot.close();
      await mirror.close();
    },
  };
}

/**
 * The lake below `prefix` kept on disk for a test that polls it: each snapshot downloads only
 * the Parquet objects that are new or changed (by ETag; an early upload is rewritten under its
 * name when its segment is cut) and drops those gone (compaction), so polling reads each object
 * about once instead of the whole lake on every poll, which the stack's S3 would serve at the
 * lake worker's expense.
 */
export class LakeMirror {
  private dir: string | undefined;
  /** ETag of each object on disk, by key. */
  private readonly held = new Map<string, string>();
  private readonly store: LakeStore;
  private readonly prefix: string;

  constructor(store: LakeStore, prefix: string) {
    this.store = store;
    this.prefix = prefix;
  }

  /** Brings the copy up to the lake's listing, then opens DuckDB on it; close it before the next. */
  async snapshot() {
    const dir = (this.dir ??= await mkdtemp(join(tmpdir(), 'koo-lake-')));
    const path = (key: string) => join(dir, key.slice(this.prefix.length));
    // The data objects only: a run's Iceberg metadata (under `_iceberg/`) is most of its objects.
    const keys = (await listKeys(this.store, this.prefix)).filter(
      ({ key }) => key.endsWith('.parquet') && !key.startsWith(`${this.prefix}_iceberg/`),
    );
    const listed = new Set(keys.map((k) => k.key));
    for (const key of [...this.held.keys()].filter((k) => !listed.has(k))) {
      await rm(path(key), { force: true });
      this.held.delete(key);
    }
    await mapConcurrent(
      keys.filter(({ key, etag }) => this.held.get(key) !== etag),
      16,
      async ({ key, etag }) => {
        await mkdir(dirname(path(key)), { recursive: true });
        await writeFile(path(key), await this.store.get(key));
        this.held.set(key, etag);
      },
    );
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    return {
      dir,
      keys,
      /** `read_parquet` of a topic's objects with hive partitioning, for FROM clauses. */
      topic: (topic: string) =>
        `read_parquet('${dir}/${topic}/*/*/*.parquet', hive_partitioning = true, filename = true, union_by_name = true)`,
      rows: async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJson(),
      close: async () => {
        connection.closeSync();
        db.closeSync();
      },
    };
  }

  async close(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.held.clear();
  }
}

/** A lake's Iceberg table as infra/python/read_lake_tables.py reads it (pyiceberg and DuckDB). */
export interface LakeTableRead {
  pyiceberg_rows: number;
  duckdb_rows: number;
  duplicate_positions: number;
  snapshots: number;
  /** Manifests of the current snapshot (what a reader opens). */
  manifests: number;
  /** Kafka partition → the offset the table holds it through. */
  next_offsets: Record<string, number>;
  non_null: Record<string, number>;
  first_snapshot_pyiceberg_rows?: number;
  first_snapshot_duckdb_rows?: number;
  /** With --spark: the same counts by Spark SQL. */
  spark_rows?: number;
  spark_duplicate_positions?: number;
  spark_non_null?: Record<string, number>;
  first_snapshot_spark_rows?: number;
  /** With --where=COLUMN=VALUE: data files in all, those planned for the filter, and its rows by each reader. */
  files?: number;
  where_files?: number;
  where_pyiceberg_rows?: number;
  where_duckdb_rows?: number;
  where_spark_rows?: number;
}

/**
 * Reads `topic`'s table with the stack's lake-readers venv, in the catalog that `catalog` (the lake
 * worker's LAKE_CATALOG_* variables) names.
 */
export async function readLakeTable(
  topic: string,
  catalog: Record<string, string>,
  ...flags: string[]
): Promise<LakeTableRead> {
  const root = resolve(import.meta.dirname, '../..');
  const { stdout } = await promisify(execFile)(
    resolve(root, '.stack/lake-readers/bin/python'),
    [resolve(root, 'infra/python/read_lake_tables.py'), ...flags, topic],
    {
      env: { ...process.env, ...catalog },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return JSON.parse(stdout) as LakeTableRead;
}
