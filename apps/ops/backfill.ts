import type { Admin, Kafka } from 'kafkajs';
import { provisionTables } from '../../infra/provision.ts';
import { catalogEntry, groupIdOf } from '../../workers/catalog.ts';
import { contentWorkerModule } from '../../workers/content/content-worker.ts';
import { engagementWorkerModule } from '../../workers/engagement/engagement-worker.ts';
import { feedWorkerModule } from '../../workers/feed/feed-worker.ts';
import { reactionsWorkerModule } from '../../workers/reactions/reactions-worker.ts';
import { commonConfigSchema } from '../../shared/config/common.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { isRetriable } from '../../shared/errors/koo-error.ts';
import { setGroupOffsets } from '../../shared/kafka/consumer-lag.ts';
import type { RawRecord } from '../../shared/kafka/records.ts';
import { createLogger, type Logger } from '../../shared/logging/logger.ts';
import type { WorkerDefinition } from '../../shared/runtime/worker-definition.ts';
import { sleep } from '../../shared/runtime/backoff.ts';
import {
  runWorker,
  type RunningWorker,
  type WorkerConfig,
  type WorkerModule,
} from '../../shared/runtime/run-worker.ts';
import { createLakeStore, lakeConfigSchema } from '../../workers/lake/lake-worker.ts';
import { avroTopicOf } from '../../workers/lake/lake-rows.ts';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import { lakeObjectsOf, replayLake } from './lake-replay.ts';
import {
  afterLake,
  BackfillProgress,
  backfillComplete,
  backfillEnv,
  backfillGroupId,
  backfillRanges,
  backfillRefusal,
  tablePrefixProblem,
} from './backfill-plan.ts';
import { committedOffsets, deleteGroup, describeGroups, partitionPositions } from './kafka-ops.ts';

type InProcessRunner = (options: {
  env: NodeJS.ProcessEnv;
  onCommitted: (records: readonly RawRecord[]) => void;
}) => Promise<RunningWorker>;

// The views a backfill rebuilds (backfillRefusal says why the other workers are not here).
const inProcessRunners: Record<string, InProcessRunner> = {
  content: (o) => runWorker(contentWorkerModule, { ...o, ownProcess: false }),
  reactions: (o) => runWorker(reactionsWorkerModule, { ...o, ownProcess: false }),
  engagement: (o) => runWorker(engagementWorkerModule, { ...o, ownProcess: false }),
  feed: (o) => runWorker(feedWorkerModule, { ...o, ownProcess: false }),
};

export interface BackfillRequest {
  worker: string;
  /** The environment the worker would run under (its config, its live group id). */
  environment: NodeJS.ProcessEnv;
  /** Write tables with this prefix (provisioned first) instead of the environment's TABLE_PREFIX. */
  tablePrefix?: string;
  /** The backfill group; default `<live group>-backfill-<time>`. An existing one resumes from its commits. */
  groupId?: string;
  /**
   * First feed the worker what the lake holds of its Avro topics (koo.reactions), then go on from
   * Kafka after the lake's last offsets: a rebuild past the topic's retention. Refused when the
   * topic lost records the lake does not hold.
   */
  fromLake?: boolean;
  /** Stops the backfill early; its group is kept so it can be resumed with `groupId`. */
  signal?: AbortSignal;
  pollMs?: number;
  onStart?: (info: { groupId: string; total: number }) => void;
  onProgress?: (done: number) => void;
}

export interface BackfillResult {
  worker: string;
  groupId: string;
  tablePrefix: string;
  records: number;
  seconds: number;
  /** False when stopped by the signal before every partition was committed. */
  completed: boolean;
}

/**
 * Rebuilds a worker's view from its topics: runs the worker in this process under a group of its
 * own from offset 0, so the live replicas keep their partitions and offsets, until the group has
 * committed the log ends seen at the start on every partition; then deletes the group. Writing
 * the live tables alongside the live worker is safe (the sinks are idempotent and fenced); a
 * table prefix rebuilds into new tables for a blue/green switch.
 */
export async function backfill(
  { kafka, admin }: { kafka: Kafka; admin: Admin },
  request: BackfillRequest,
): Promise<BackfillResult> {
  const entry = catalogEntry(request.worker);
  const refusal = backfillRefusal(entry);
  if (refusal) throw new Error(`will not backfill ${entry.name}: ${refusal}`);
  const run = inProcessRunners[entry.name];
  if (!run) throw new Error(`no in-process runner for ${entry.name}: add it to apps/ops/backfill.ts`);
  const problem = request.tablePrefix === undefined ? undefined : tablePrefixProblem(request.tablePrefix);
  if (problem) throw new Error(problem);
  const { variable, topics } = entry.group!;
  const groupId = request.groupId ?? backfillGroupId(groupIdOf(entry, request.environment)!, new Date());
  const [group] = await describeGroups(admin, [groupId]);
  if (group!.members > 0)
    throw new Error(
      `group ${groupId} has ${group!.members} member(s): is a backfill under it still running?`,
    );

  const config = loadConfig(commonConfigSchema, request.environment);
  const tablePrefix = request.tablePrefix ?? config.TABLE_PREFIX;
  if (request.tablePrefix !== undefined) {
    await provisionTables({ ...config, TABLE_PREFIX: tablePrefix }, createLogger('koo-backfill', 'warn'));
  }
  const env = backfillEnv(request.environment, { groupVariable: variable, groupId, tablePrefix });
  if (request.fromLake) {
    const build = lakeReplayWorkers[entry.name];
    if (!build)
      throw new Error(`will not rebuild ${entry.name} from the lake: it reads no topic the lake gives back`);
    await replayFromLake(
      { kafka, admin },
      entry.name,
      build,
      env,
      groupId,
      request.signal ?? new AbortController().signal,
    );
  }
  const ranges = backfillRanges(await partitionPositions(admin, groupId, topics));
  const progress = new BackfillProgress(ranges);
  request.onStart?.({ groupId, total: progress.total });
  const started = performance.now();
  const result = (completed: boolean): BackfillResult => ({
    worker: entry.name,
    groupId,
    tablePrefix,
    // A chunk's commit can be seen here before its onCommitted call has counted it.
    records: completed ? progress.total : progress.done,
    seconds: (performance.now() - started) / 1000,
    completed,
  });
  if (progress.total === 0) {
    await deleteGroup(admin, groupId);
    return result(true);
  }

  const worker = await run({
    env,
    onCommitted: (records) => {
      const last = records[records.length - 1];
      if (last) request.onProgress?.(progress.committed(last.topic, last.partition, BigInt(last.offset)));
    },
  });
  let completed = false;
  try {
    while (!request.signal?.aborted) {
      const committed = await committedOffsets(admin, groupId, topics).catch((err: unknown) => {
        // A coordinator moving or loading answers with a retriable error: ask again next round.
        if (!isRetriable(err)) throw err;
        return new Map<string, bigint>();
      });
      if (backfillComplete(ranges, committed)) {
        completed = true;
        break;
      }
      await sleep(request.pollMs ?? 1_000, request.signal);
    }
  } finally {
    await worker.close();
  }
  if (completed) await deleteGroup(admin, groupId);
  return result(completed);
}

/** A worker built in this process from its environment, fed by hand (not by a consumer). */
type WorkerBuilder = (
  env: NodeJS.ProcessEnv,
  logger: Logger,
) => Promise<{ worker: WorkerDefinition<unknown>; config: WorkerConfig }>;

const builderOf =
  <C extends WorkerConfig, T>(module: WorkerModule<C, T>): WorkerBuilder =>
  async (env, logger) => {
    const config = module.loadConfig(env);
    return { worker: (await module.create(config, logger)) as WorkerDefinition<unknown>, config };
  };

// The views a rebuild from the lake serves: those that read koo.reactions, whose retention is 30 days.
const lakeReplayWorkers: Record<string, WorkerBuilder> = {
  reactions: builderOf(reactionsWorkerModule),
  engagement: builderOf(engagementWorkerModule),
};

/**
 * Feeds a worker built from `env` what the lake holds of its Avro topics, and commits the group
 * after the lake's last offsets, where the Kafka part then starts. Checked first: a partition
 * whose log starts past the lake's end lost records neither holds.
 */
async function replayFromLake(
  { kafka, admin }: { kafka: Kafka; admin: Admin },
  name: string,
  build: WorkerBuilder,
  env: NodeJS.ProcessEnv,
  groupId: string,
  signal: AbortSignal,
): Promise<void> {
  const logger = createLogger('koo-backfill', 'warn');
  const lake = loadConfig(lakeConfigSchema, env);
  const store = createLakeStore(lake);
  const { worker, config } = await build(env, logger);
  const registry = createSchemaRegistry(config.SCHEMA_REGISTRY_URL);
  try {
    for (const topic of worker.topics) {
      const avro = avroTopicOf(topic);
      if (!avro) continue;
      const schemaId = await registry.getRegistryIdBySchema(`${topic}-value`, {
        type: SchemaType.AVRO,
        schema: JSON.stringify(avro.schema),
      });
      const source = { store, prefix: lake.LAKE_PREFIX, topic, avro, schemaId };
      const objects = await lakeObjectsOf(source);
      const logStart = new Map(
        (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.low)]),
      );
      const { start, gaps } = afterLake(objects, logStart);
      if (gaps.length > 0)
        throw new Error(
          `will not rebuild ${name} from the lake: ${topic} lost records the lake does not hold (` +
            gaps.map((g) => `partition ${g.partition}: offsets ${g.from} to ${g.to - 1n}`).join('; ') +
            ')',
        );
      await replayLake(source, objects, worker, { batchSize: config.BATCH_SIZE, logger, signal });
      if (signal.aborted) return;
      if (start.size > 0)
        await setGroupOffsets(kafka, groupId, [
          {
            topic,
            partitions: [...start].map(([partition, offset]) => ({ partition, offset: offset.toString() })),
          },
        ]);
    }
  } finally {
    await worker.close?.();
  }
}
