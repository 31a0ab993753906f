import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import { kooRowSchema } from '../../schemas/cdc.ts';
import { reactionContract, type Reaction } from '../../schemas/reaction.ts';
import { RegistryCodec } from '../../shared/avro/registry-codec.ts';
import { decodeChangeEvent } from '../../shared/cdc/debezium.ts';
import { env, loadConfig } from '../../shared/config/load-config.ts';
import { dynamoFor, type Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { packTransactions } from '../../shared/dynamodb/transact.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import { partitionKey, type DecodedRecord, type RawRecord } from '../../shared/kafka/records.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import { mapConcurrent, sleep } from '../../shared/runtime/backoff.ts';
import { workerConfigSchema, type WorkerModule } from '../../shared/runtime/run-worker.ts';
import { WorkerBase, type HandlerContext, type WorkerParts } from '../../shared/runtime/worker-definition.ts';
import type { DecaySettings } from './decay.ts';
import {
  eventsPerKoo,
  fenceAttribute,
  planKoo,
  replyStateKey,
  storedScoreOf,
  type EngagementEvent,
  type EngagementStep,
  type EngagementWeights,
} from './decide.ts';
import { kooScoreItemOf, ScoreStore, type KooScoreItem } from './score-store.ts';
import { TrendingStore } from './trending-store.ts';

export const engagementTopics = [topicNames.reactions, topicNames.koos];

export const engagementConfigSchema = workerConfigSchema.safeExtend({
  ENGAGEMENT_GROUP_ID: env.string('koo-engagement'),
  /** Bigger batches coalesce more of a popular koo's events into one write. */
  BATCH_SIZE: env.int(2000, 1, 100_000),
  /** A partition's batches short of BATCH_SIZE are written at most once per this interval (so a koo's score, per source partition); 0: every batch. */
  ENGAGEMENT_FLUSH_INTERVAL_MS: env.int(1000, 0, 60_000),
  /** A koo's score halves every this many minutes without engagement. */
  ENGAGEMENT_HALF_LIFE_MINUTES: env.int(360, 1),
  /** Landmark period in half-lives; an event adds at most its weight * 2^this, and 2^256 stays far below DynamoDB's 1e125 bound. */
  ENGAGEMENT_LANDMARK_HALF_LIVES: env.int(28, 1, 256),
  ENGAGEMENT_WEIGHT_LIKE: env.number(1),
  ENGAGEMENT_WEIGHT_SHARE: env.number(3),
  ENGAGEMENT_WEIGHT_REKOO: env.number(2),
  ENGAGEMENT_WEIGHT_REPLY: env.number(4),
  /** Koos kept per trending set; at most 5000 so that a set's snapshot stays one DynamoDB item (400 KB). */
  TRENDING_TOP_K: env.int(100, 1, 5000),
  /** A koo whose decayed score falls below it leaves trending. */
  TRENDING_MIN_SCORE: z.coerce
    .number({ message: 'must be a number' })
    .positive('must be above 0')
    .default(0.05),
  /** How often the trending sets are copied to koo_trending. */
  TRENDING_SNAPSHOT_INTERVAL_MS: env.int(60_000, 1000),
  /** Prefix of the worker's Redis keys. */
  TRENDING_KEY_PREFIX: z.string().default('koo:'),
  /** How long a taken-back like's state is kept (it stops a late duplicate from counting again); above the topic's retention. */
  ENGAGEMENT_TOMBSTONE_TTL_DAYS: env.int(35, 1),
});
export type EngagementConfig = z.infer<typeof engagementConfigSchema>;

export function loadEngagementConfig(environment: NodeJS.ProcessEnv): EngagementConfig {
  return loadConfig(engagementConfigSchema, environment);
}

export function decaySettingsOf(
  config: Pick<EngagementConfig, 'ENGAGEMENT_HALF_LIFE_MINUTES' | 'ENGAGEMENT_LANDMARK_HALF_LIVES'>,
): DecaySettings {
  const halfLifeMs = config.ENGAGEMENT_HALF_LIFE_MINUTES * 60_000;
  return { halfLifeMs, landmarkPeriodMs: halfLifeMs * config.ENGAGEMENT_LANDMARK_HALF_LIVES };
}

export function weightsOf(config: EngagementConfig): EngagementWeights {
  return {
    like: config.ENGAGEMENT_WEIGHT_LIKE,
    share: config.ENGAGEMENT_WEIGHT_SHARE,
    rekoo: config.ENGAGEMENT_WEIGHT_REKOO,
    reply: config.ENGAGEMENT_WEIGHT_REPLY,
  };
}

/**
 * Pure: a reply's CDC create is engagement of its parent; a koo's delete retracts it from
 * trending; other koo changes are not engagement.
 */
export function decodeKooChange(record: RawRecord): EngagementEvent | null {
  const change = decodeChangeEvent(record, kooRowSchema);
  if (change?.op === 'd')
    return { contentId: change.before!.content_id, kind: 'delete', timeMs: change.before!.updated_at };
  const row = change?.after;
  // A reply is counted from its create, or from a snapshot read of its row ('r': a row Debezium had
  // not streamed, or any row again in a re-snapshot); its state under the parent counts it once.
  if (!row || (change.op !== 'c' && change.op !== 'r') || !row.parent_id || row.parent_id === row.content_id)
    return null;
  return {
    contentId: row.parent_id,
    kind: 'reply',
    timeMs: row.created_at,
    userId: replyStateKey(row.content_id),
  };
}

export function reactionEvent(r: Reaction): EngagementEvent {
  return { contentId: r.content_id, kind: r.type, timeMs: r.event_time, userId: r.user_id };
}

export interface EngagementWorkerParts extends WorkerParts<EngagementConfig> {
  codec: RegistryCodec<Reaction>;
  scores: ScoreStore;
  trending: TrendingStore;
  /** Lets go of the clients the worker's stores share, once it is closed. */
  release?: () => void;
}

/**
 * engagement: koo.reactions and replies in koo.public.koos → a forward-decayed score on each koo
 * item in koo_content, and trending sets in Redis. Per batch (one source partition): one read of
 * the koos' scores and fences and of the reacting users' states, fenced writes of the koos with
 * new events and the states they change (packed into transactions), one Redis pipeline.
 */
export class EngagementWorker extends WorkerBase<EngagementWorkerParts, EngagementEvent> {
  readonly name = 'engagement';
  readonly topics = engagementTopics;
  private readonly decay: DecaySettings;
  private readonly weights: EngagementWeights;
  /** When each source partition was last written (epoch ms). */
  private readonly lastWrite = new Map<string, number>();
  private snapshots: NodeJS.Timeout | undefined;

  constructor(parts: EngagementWorkerParts) {
    super(parts.config.ENGAGEMENT_GROUP_ID, parts);
    this.decay = decaySettingsOf(parts.config);
    this.weights = weightsOf(parts.config);
  }

  prepare(records: readonly RawRecord[]): Promise<void> {
    return this.parts.codec.prepare(
      records.filter((r) => r.topic === topicNames.reactions).map((r) => r.value),
    );
  }

  decode(record: RawRecord): EngagementEvent | null {
    return record.topic === topicNames.reactions
      ? reactionEvent(this.parts.codec.decodeRecord(record))
      : decodeKooChange(record);
  }

  async handle(batch: DecodedRecord<EngagementEvent>[], ctx: HandlerContext): Promise<void> {
    const { topic, partition } = batch[0]!.raw;
    const flushKey = partitionKey(topic, partition);
    // A full batch is a backlog: waiting would not make it bigger, only the drain slower.
    if (batch.length < this.parts.config.BATCH_SIZE) await this.awaitFlushInterval(flushKey, ctx.signal);
    const fence = fenceAttribute(topic, partition);
    const byKoo = eventsPerKoo(batch.map((r) => ({ event: r.value, offset: Number(r.raw.offset) })));
    const reacting = batch.flatMap(({ value: e }) =>
      e.userId === undefined ? [] : [{ contentId: e.contentId, userId: e.userId }],
    );
    // Fences first, then the users' states: a state newer than the fence read was written with a
    // newer fence (one transaction), so the step's condition fails and the batch reads again.
    // The other order could plan on old states past a fence that already counts newer ones.
    const stored = await this.parts.scores.read([...byKoo.keys()], fence);
    const pairs = await this.parts.scores.readPairs(reacting); // batchGet reads each pair once
    const expiresAt =
      Math.floor(this.now() / 1000) + this.parts.config.ENGAGEMENT_TOMBSTONE_TTL_DAYS * 86_400;
    const current: KooScoreItem[] = [];
    const chains: EngagementStep[][] = [];
    for (const [id, events] of byKoo) {
      const item = stored.get(id);
      const steps = planKoo(
        id,
        events,
        storedScoreOf(item, fence),
        fence,
        pairs.get(id) ?? new Map(),
        this.weights,
        this.decay,
      );
      // Already applied (a redelivery): the score is still put in Redis, which may have missed it.
      const applied = steps.length === 0 && item ? kooScoreItemOf(item) : undefined;
      if (applied) current.push(applied);
      if (steps.length > 0) chains.push(steps);
    }
    // Koos share transactions (one request for many koos when each has few events); a koo's
    // steps go in successive rounds, in order (each expects the fence the one before leaves).
    const after = new Map<string, KooScoreItem | undefined>();
    for (const round of packTransactions(chains, (step) => 1 + step.pairs.length)) {
      await mapConcurrent(
        round,
        this.parts.config.SINK_CONCURRENCY,
        async (steps) => {
          const written = await this.parts.scores.write(steps, expiresAt);
          for (const step of steps) after.set(step.score.contentId, written);
        },
        ctx.signal,
      );
    }
    const readBack: string[] = [];
    for (const [id, item] of after) {
      if (item) current.push(item);
      else readBack.push(id);
    }
    // Koos last written by a transaction: their score as it is now (other partitions add too).
    for (const item of (await this.parts.scores.read(readBack, fence)).values()) {
      const score = kooScoreItemOf(item);
      if (score) current.push(score);
    }
    await this.parts.trending.apply(current, this.now());
    this.lastWrite.set(flushKey, this.now());
  }

  /**
   * Waits out the rest of the partition's flush interval. Events that arrive meanwhile wait in
   * Kafka, uncommitted, and come as one bigger batch next: writes coalesce without holding
   * anything in memory that a crash could lose. Shutdown interrupts the wait, uncommitted.
   */
  private async awaitFlushInterval(partitionKey: string, signal: AbortSignal): Promise<void> {
    const wait =
      (this.lastWrite.get(partitionKey) ?? -Infinity) +
      this.parts.config.ENGAGEMENT_FLUSH_INTERVAL_MS -
      this.now();
    if (wait <= 0) return;
    await sleep(wait, signal);
    if (signal.aborted)
      throw new KooError('SHUTTING_DOWN', 'stopped while waiting for the flush interval', {
        retriable: true,
      });
  }

  /** Copies the trending sets to koo_trending; every replica does it, the last write wins and all are equal. */
  snapshot(): Promise<number> {
    return this.parts.trending.snapshot(this.now());
  }

  /** Snapshots trending every TRENDING_SNAPSHOT_INTERVAL_MS until close; a failed snapshot is retried by the next. */
  startSnapshots(logger: Logger): void {
    this.snapshots = setInterval(() => {
      this.snapshot().catch((err: unknown) => logger.warn({ err }, 'trending snapshot failed'));
    }, this.parts.config.TRENDING_SNAPSHOT_INTERVAL_MS);
    this.snapshots.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.snapshots);
    this.parts.release?.();
  }

  sinkReady(): Promise<boolean> {
    return this.parts.scores.reachable();
  }
}

/** The Redis client and stores of the engagement worker and its queries, from the configuration. */
export function engagementStores(config: EngagementConfig): {
  dynamo: Dynamo;
  redis: Redis;
  scores: ScoreStore;
  trending: TrendingStore;
} {
  const dynamo = dynamoFor(config);
  // Commands fail fast while Redis is down instead of queueing without bound; the batch retries.
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: true });
  const scores = new ScoreStore(
    dynamo,
    {
      content: tableName('content', config.TABLE_PREFIX),
      pairs: tableName('engagement', config.TABLE_PREFIX),
    },
    config.SINK_CONCURRENCY,
  );
  const trending = new TrendingStore({
    redis,
    dynamo,
    keyPrefix: config.TRENDING_KEY_PREFIX,
    snapshotTable: tableName('trending', config.TABLE_PREFIX),
    topK: config.TRENDING_TOP_K,
    minScore: config.TRENDING_MIN_SCORE,
    decay: decaySettingsOf(config),
  });
  return { dynamo, redis, scores, trending };
}

function createEngagementWorker(config: EngagementConfig, logger: Logger): EngagementWorker {
  const { dynamo, redis, scores, trending } = engagementStores(config);
  const codec = new RegistryCodec(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), reactionContract);
  const worker = new EngagementWorker({
    codec,
    scores,
    trending,
    config,
    release: () => {
      redis.disconnect();
      dynamo.destroy();
    },
  });
  worker.startSnapshots(logger);
  return worker;
}

export const engagementWorkerModule: WorkerModule<EngagementConfig, EngagementEvent> = {
  name: 'engagement',
  loadConfig: loadEngagementConfig,
  create: createEngagementWorker,
};
