import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { z } from 'zod';
import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import { topicNames } from '../../schemas/topics.ts';
import { RegistryCodec } from '../../shared/avro/registry-codec.ts';
import { env, loadConfig } from '../../shared/config/load-config.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import { partitionKey, type DecodedRecord, type RawRecord } from '../../shared/kafka/records.ts';
import { metrics } from '../../shared/metrics/metrics.ts';
import { mapConcurrent } from '../../shared/runtime/backoff.ts';
import { workerConfigSchema, type WorkerModule } from '../../shared/runtime/run-worker.ts';
import { WorkerBase, type HandlerContext, type WorkerParts } from '../../shared/runtime/worker-definition.ts';
import { withAddedColumns, type Column, type LakeRow } from './columns.ts';
import { columnMetrics } from './iceberg/column-metrics.ts';
import { LakeTables, type SegmentFiles, type TableDefinition } from './iceberg/lake-tables.ts';
import type { IcebergCatalog } from './iceberg/catalog.ts';
import { GlueCatalog } from './iceberg/glue-catalog.ts';
import { SqlCatalog } from './iceberg/sql-catalog.ts';
import { hourStartMs, objectKey } from './layout.ts';
import { LakeStore } from './lake-store.ts';
import { putHourFile } from './lake-writes.ts';
import { avroRecord, avroTopicOf, cdcRecord, cdcTableOf, lakeColumns } from './lake-rows.ts';
import { encodeParquet } from './parquet-encoder.ts';
import { Segment, type LakeRecord, type RotationLimits } from './segment.ts';

const MiB = 1024 * 1024;

/** The topics the lake archives unless LAKE_TOPICS says otherwise: every topic the pipeline reads. */
export const lakeTopics = [topicNames.users, topicNames.koos, topicNames.follows, topicNames.reactions];

export const lakeConfigSchema = workerConfigSchema.safeExtend({
  LAKE_GROUP_ID: env.string('koo-lake'),
  LAKE_TOPICS: env.list(lakeTopics.join(',')).superRefine((topics, ctx) => {
    for (const topic of topics) {
      if (!cdcTableOf(topic) && !avroTopicOf(topic))
        ctx.addIssue({
          code: 'custom',
          message: `no schema for topic ${topic} (see workers/lake/lake-rows.ts)`,
        });
    }
  }),
  /** Key prefix inside LAKE_BUCKET (e.g. `staging/`); the lake's layout starts below it. */
  LAKE_PREFIX: z.string().default(''),
  /** A segment never spans a multiple of this many offsets of its partition. */
  LAKE_ROTATE_ROWS: env.int(100_000, 1),
  /** A segment holds at most this many Kafka bytes (keys plus values); memory per partition is about this. */
  LAKE_ROTATE_BYTES: env.int(64 * MiB, 1024),
  /**
   * A segment spans at most this much Kafka record time; a segment held this long by the clock is
   * also uploaded early (same names, offsets not committed) so that analysts see it.
   */
  LAKE_ROTATE_AGE_MS: env.int(300_000, 1000),
  /** Objects larger than this go up as multipart uploads of parts this size (S3's minimum is 5 MiB). */
  LAKE_PART_BYTES: env.int(8 * MiB, 5 * MiB),
  /**
   * The Iceberg catalog where each committed segment is also appended to its topic's table:
   * `postgres://...` an Iceberg SQL catalog (the JdbcCatalog's and pyiceberg's tables),
   * `glue://<database>` the AWS Glue Data Catalog. Empty: no tables.
   */
  LAKE_CATALOG_URL: env
    .optionalUrl('postgres://koo@127.0.0.1:5432/koo_lake_catalog')
    .refine((url) => url === undefined || /^(postgres|postgresql|glue):/.test(url), {
      message: 'must be postgres://... (an Iceberg SQL catalog) or glue://<database>',
    }),
  /** The SQL catalog's name (`catalog_name` in its tables; readers open the catalog by it): one per lake (LAKE_PREFIX). */
  LAKE_CATALOG_NAME: env.string('koo'),
  /** The Glue API of a `glue://` catalog: the local stack's AWS emulator; empty in AWS (the region's endpoint). */
  GLUE_ENDPOINT: env.optionalUrl('http://127.0.0.1:9000'),
});
export type LakeConfig = z.infer<typeof lakeConfigSchema>;

export function loadLakeConfig(environment: NodeJS.ProcessEnv): LakeConfig {
  return loadConfig(lakeConfigSchema, environment);
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Records since the last cut, held in memory; their offsets are not committed. */
  segment: Segment | undefined;
  /** Offset after the last record taken in: a retried batch's records before it are skipped. */
  next: bigint;
  /** The held segment's end when it was last uploaded early (no new records: no new upload). */
  uploadedThrough: bigint | undefined;
  /** Serializes the batches and the early uploads of the partition. */
  busy: Promise<unknown>;
}

/** How the lake reads one topic: its columns, and for an Avro topic its codec and event-time field. */
interface TopicReader {
  columns: Column[];
  avro: { codec: RegistryCodec<LakeRow>; eventTimeField: string | undefined } | undefined;
}

export interface LakeWorkerParts extends WorkerParts<LakeConfig> {
  store: LakeStore;
  /** The topics' Iceberg tables, when a catalog is configured. */
  tables?: LakeTables;
  /** Where each Avro topic's writer schemas are read. */
  registry: SchemaRegistry;
}

/**
 * lake: every topic → Parquet objects on S3, one per (segment, event hour).
 * Each partition holds a segment of records in memory; a record that crosses a rotation limit
 * cuts it: the segment's hour files are uploaded, and only then may the runtime commit past them
 * (`heldFrom`). Cuts depend on the records alone and object names on offsets, so a crash or a
 * replay comes to the same objects with the same rows, and leaves them as they are: every event
 * lands exactly once. A write only ever grows an object (lake-writes.ts), so neither a stale
 * upload nor a replay over compacted hours can take rows away.
 */
export class LakeWorker extends WorkerBase<LakeWorkerParts, LakeRecord> {
  readonly name = 'lake';
  readonly topics: string[];
  private readonly limits: RotationLimits;
  private readonly readers = new Map<string, TopicReader>();
  private readonly partitions = new Map<string, PartitionState>();
  private readonly timer: NodeJS.Timeout;
  /** The uploadAged sweep running, if one is. */
  private sweep: Promise<void> | undefined;

  constructor(parts: LakeWorkerParts) {
    super(parts.config.LAKE_GROUP_ID, parts);
    const { config, registry } = parts;
    this.topics = config.LAKE_TOPICS;
    this.limits = {
      rows: config.LAKE_ROTATE_ROWS,
      bytes: config.LAKE_ROTATE_BYTES,
      ageMs: config.LAKE_ROTATE_AGE_MS,
    };
    for (const topic of this.topics) {
      const avro = avroTopicOf(topic);
      this.readers.set(topic, {
        columns: lakeColumns(topic),
        avro: avro && {
          codec: new RegistryCodec(registry, avro.contract),
          eventTimeField: avro.eventTimeField,
        },
      });
    }
    const tick = Math.min(5_000, Math.max(250, config.LAKE_ROTATE_AGE_MS / 4));
    this.timer = setInterval(() => void this.uploadAged(), tick);
    this.timer.unref();
  }

  /** Loads the writer schemas of an Avro batch, so that decode stays synchronous. */
  async prepare(records: readonly RawRecord[]): Promise<void> {
    const avro = records[0] && this.readers.get(records[0].topic)?.avro;
    if (avro) await avro.codec.prepare(records.map((r) => r.value));
  }

  /** Pure: the record as a row at its event time; null for a tombstone; throws (→ DLQ) for bad input. */
  decode(record: RawRecord): LakeRecord | null {
    const table = cdcTableOf(record.topic);
    if (table) return cdcRecord(record, table);
    const avro = this.readers.get(record.topic)!.avro!;
    if (record.value === null || record.value.length === 0) return null;
    return avroRecord(record, avro.codec.decodeRecord(record), avro.eventTimeField);
  }

  async handle(batch: DecodedRecord<LakeRecord>[], ctx: HandlerContext): Promise<void> {
    const { topic, partition } = batch[0]!.raw;
    const state = this.state(topic, partition);
    await this.exclusive(state, async () => {
      for (const { value: record } of batch) {
        if (record.offset < state.next) continue; // taken in by an earlier try of this batch
        if (state.segment?.cutsBefore(record, this.limits)) {
          await this.upload(state, state.segment, 'cut');
          state.segment = undefined;
          state.uploadedThrough = undefined;
          await ctx.heartbeat();
        }
        if (state.segment) state.segment.add(record);
        else state.segment = new Segment(record, this.now());
        state.next = record.offset + 1n;
      }
    });
  }

  heldFrom(topic: string, partition: number): bigint | undefined {
    return this.partitions.get(partitionKey(topic, partition))?.segment?.firstOffset;
  }

  /**
   * After every join the runtime resumes each partition from its committed offset (the first one
   * held), so every segment is dropped, also of partitions this member keeps: while it was out of
   * the group another member may have cut and committed past it, and records from there appended
   * to the old segment would make an object that replaces that member's under the same name.
   */
  assigned(): void {
    this.partitions.clear();
  }

  /**
   * Encodes and uploads the segment's hour files; a cut segment's files are then appended to its
   * topic's Iceberg table. Any failure is retriable: it is never the fault of one record.
   */
  private async upload(state: PartitionState, segment: Segment, reason: 'cut' | 'early'): Promise<void> {
    const { topic, partition } = state;
    const { columns } = this.readers.get(topic)!;
    const prefix = this.parts.config.LAKE_PREFIX;
    const columnsOf = (rows: readonly LakeRow[]) => withAddedColumns(columns, rows);
    const tables = reason === 'cut' ? this.parts.tables : undefined;
    /** For the table: the segment's files as objects of their own (not held by a compacted one). */
    const files: SegmentFiles['files'] = [];
    const stop = metrics.lakeUploadDuration.startTimer({ topic });
    try {
      await mapConcurrent(segment.hourFiles(), 4, async (file) => {
        const fileColumns = columnsOf(file.rows);
        const put = await putHourFile(this.parts.store, { prefix, topic, partition, hour: file }, file, () =>
          encodeParquet(fileColumns, file.rows),
        );
        if (put.outcome === 'written') {
          metrics.lakeObjectsWritten.inc({ topic, reason });
          metrics.lakeBytesWritten.inc({ topic }, put.bytes);
        }
        // An early upload is not in a table yet: its column metrics are not needed.
        if (put.outcome === 'held' || !tables) return;
        files.push({
          key: objectKey(prefix, topic, partition, file),
          records: file.rows.length,
          bytes: put.bytes,
          eventHourMs: hourStartMs(file),
          metrics: columnMetrics(fileColumns, file.rows),
        });
      });
      // A file held by another object is in the table through that object (a compacted one).
      if (tables && files.length > 0) {
        await tables.append({
          topic,
          partition,
          nextOffset: segment.nextOffset,
          columns: columnsOf(segment.hourFiles().flatMap((f) => f.rows)),
          files,
        });
      }
    } catch (err) {
      throw new KooError(
        'SINK_UNAVAILABLE',
        `lake upload of ${topic}/${partition}@${segment.firstOffset} failed`,
        { retriable: true, cause: err },
      );
    } finally {
      stop();
    }
  }

  /**
   * Uploads segments held longer than the age limit, under their final names; their offsets stay
   * uncommitted. One sweep at a time, its partitions' uploads side by side: a sweep that outlasts
   * the timer's tick (many held partitions, a slow store) is not joined by another that would
   * upload the same segments again.
   */
  private uploadAged(): Promise<void> {
    this.sweep ??= this.sweepAged().finally(() => (this.sweep = undefined));
    return this.sweep;
  }

  private async sweepAged(): Promise<void> {
    const due = (s: PartitionState) =>
      s.segment !== undefined &&
      this.now() - s.segment.openedAtMs >= this.limits.ageMs &&
      s.uploadedThrough !== s.segment.nextOffset;
    await mapConcurrent(
      [...this.partitions.values()].filter(due),
      this.parts.config.SINK_CONCURRENCY,
      (state) =>
        this.exclusive(state, async () => {
          // A batch may have cut, or this partition gone to another member, since the sweep began.
          if (!due(state) || this.partitions.get(partitionKey(state.topic, state.partition)) !== state)
            return;
          const segment = state.segment!;
          await this.upload(state, segment, 'early');
          state.uploadedThrough = segment.nextOffset;
        }).catch(() => undefined), // the cut uploads the same objects again, and reports failures
    );
  }

  private state(topic: string, partition: number): PartitionState {
    const key = partitionKey(topic, partition);
    let state = this.partitions.get(key);
    if (!state) {
      state = {
        topic,
        partition,
        segment: undefined,
        next: -1n,
        uploadedThrough: undefined,
        busy: Promise.resolve(),
      };
      this.partitions.set(key, state);
    }
    return state;
  }

  private exclusive<R>(state: PartitionState, fn: () => Promise<R>): Promise<R> {
    const run = state.busy.then(fn, fn);
    state.busy = run.catch(() => undefined);
    return run;
  }

  async sinkReady(): Promise<boolean> {
    return this.parts.store
      .list(`${this.parts.config.LAKE_PREFIX}__readyz__`)
      .next()
      .then(
        () => true,
        () => false,
      );
  }

  /** Held segments are not uploaded on the way out: the partition's next owner rebuilds them from the committed offset. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sweep; // its uploads use the store
    await Promise.all([...this.partitions.values()].map((s) => s.busy));
    await this.parts.tables?.close();
    this.parts.store.destroy();
  }
}

export function createLakeStore(config: LakeConfig): LakeStore {
  return new LakeStore({
    region: config.AWS_REGION,
    endpoint: config.S3_ENDPOINT,
    bucket: config.LAKE_BUCKET,
    partBytes: config.LAKE_PART_BYTES,
  });
}

/** Each topic's table as first created: its declared columns, partitioned by the hour of its event time. */
export function lakeTableDefinitions(topics: readonly string[]): Map<string, TableDefinition> {
  return new Map(
    topics.map((topic) => {
      const columns = lakeColumns(topic);
      const hourColumn = cdcTableOf(topic) ? '_changed_at' : avroTopicOf(topic)?.eventTimeField;
      return [topic, { columns, hourColumn }];
    }),
  );
}

/** The catalog LAKE_CATALOG_URL names; undefined when it is unset. */
export function createLakeCatalog(config: LakeConfig): IcebergCatalog | undefined {
  const url = config.LAKE_CATALOG_URL;
  if (url === undefined) return undefined;
  const { protocol, hostname } = new URL(url);
  if (protocol === 'glue:')
    return new GlueCatalog({ database: hostname, region: config.AWS_REGION, endpoint: config.GLUE_ENDPOINT });
  return new SqlCatalog(url, config.LAKE_CATALOG_NAME);
}

/** The topics' Iceberg tables in the configured catalog; undefined when LAKE_CATALOG_URL is unset. */
export function createLakeTables(config: LakeConfig, store: LakeStore): LakeTables | undefined {
  const catalog = createLakeCatalog(config);
  if (catalog === undefined) return undefined;
  return new LakeTables({
    store,
    catalog,
    prefix: config.LAKE_PREFIX,
    definitions: lakeTableDefinitions(config.LAKE_TOPICS),
  });
}

export function createLakeWorker(config: LakeConfig): LakeWorker {
  const store = createLakeStore(config);
  return new LakeWorker({
    store,
    tables: createLakeTables(config, store),
    registry: createSchemaRegistry(config.SCHEMA_REGISTRY_URL),
    config,
  });
}

export const lakeWorkerModule: WorkerModule<LakeConfig, LakeRecord> = {
  name: 'lake',
  loadConfig: loadLakeConfig,
  create: (config) => createLakeWorker(config),
};
