import { z } from 'zod';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import { followRowSchema, kooRowSchema, type FollowRow, type KooRow } from '../../schemas/cdc.ts';
import { decodeChangeEvent, type ChangeEvent } from '../../shared/cdc/debezium.ts';
import { env, loadConfig } from '../../shared/config/load-config.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';
import type { DecodedRecord, RawRecord } from '../../shared/kafka/records.ts';
import { metrics } from '../../shared/metrics/metrics.ts';
import { mapConcurrent } from '../../shared/runtime/backoff.ts';
import { workerConfigSchema, type WorkerModule } from '../../shared/runtime/run-worker.ts';
import { WorkerBase, type HandlerContext, type WorkerParts } from '../../shared/runtime/worker-definition.ts';
import { latestPerKey } from '../content/decide.ts';
import {
  authorIndexWrite,
  backfillKoos,
  feedEntry,
  feedEntryKey,
  indexedKoos,
  isPulledAuthor,
  isRetracted,
  jobOutcome,
  kooJobs,
  newestKoos,
  planJob,
  recordExpiry,
  type FanOutState,
  type FeedSettings,
} from './decide.ts';
import { edgeChange, edgeId, edgeStep, type EdgeChange, type EdgeWrite } from './graph-decide.ts';
import { FanOut } from './fan-out.ts';
import { FeedStore } from './feed-store.ts';
import { GraphStore } from './graph-store.ts';

export const feedTopics = [topicNames.follows, topicNames.koos];

export const feedConfigSchema = workerConfigSchema.safeExtend({
  FEED_GROUP_ID: env.string('koo-feed'),
  /** Entries a user's feed keeps; the oldest go first. */
  FEED_CAP: env.int(500, 1, 100_000),
  /** Entries expire this long after their koo was created (DynamoDB TTL). */
  FEED_TTL_DAYS: env.int(30, 1),
  /** Authors with more followers than this (and users marked eminent) are pulled at read time, not fanned out. */
  FEED_EMINENT_FOLLOWERS: env.int(100_000, 0),
  /** Followers per fan-out page: what is held in memory and redone after a crash (a page is one Query of ~1 MB at most). */
  FEED_FANOUT_PAGE: env.int(5000, 1, 100_000),
  /** Koos of one batch fanned out at the same time (each with SINK_CONCURRENCY writes in flight). */
  FEED_FANOUT_CONCURRENCY: env.int(2, 1, 64),
  /** Koos of the author a new follower gets. */
  FEED_BACKFILL_KOOS: env.int(20, 0, 1000),
  /**
   * A follower's feed is trimmed to FEED_CAP on 1 in this many fan-out writes (1: on every write;
   * 0: never on fan-out, leaving it to backfills, the read path's cap and TTL).
   */
  FEED_TRIM_EVERY: env.int(32, 0, 1_000_000),
  /** How long unfollow and retraction tombstones fence replays; keep it above the CDC topics' retention. */
  TOMBSTONE_TTL_DAYS: env.int(35, 1),
});
export type FeedConfig = z.infer<typeof feedConfigSchema>;

export function loadFeedConfig(environment: NodeJS.ProcessEnv): FeedConfig {
  return loadConfig(feedConfigSchema, environment);
}

export function feedSettings(config: FeedConfig): FeedSettings {
  return {
    entryTtlSeconds: config.FEED_TTL_DAYS * 86_400,
    tombstoneTtlSeconds: config.TOMBSTONE_TTL_DAYS * 86_400,
    eminentFollowers: config.FEED_EMINENT_FOLLOWERS,
    cap: config.FEED_CAP,
    trimEvery: config.FEED_TRIM_EVERY,
  };
}

export type FeedEvent =
  { kind: 'follow'; change: ChangeEvent<FollowRow> } | { kind: 'koo'; change: ChangeEvent<KooRow> };

/** Pure: a CDC record of follows or koos, validated; null for tombstones. */
export function decodeFeedEvent(record: RawRecord): FeedEvent | null {
  if (record.topic === topicNames.follows) {
    const change = decodeChangeEvent(record, followRowSchema);
    return change && { kind: 'follow', change };
  }
  const change = decodeChangeEvent(record, kooRowSchema);
  return change && { kind: 'koo', change };
}

const unique = (values: Iterable<string>) => [...new Set(values)];

export interface FeedWorkerParts extends WorkerParts<FeedConfig> {
  graph: GraphStore;
  feed: FeedStore;
}

/**
 * feed: follows CDC → koo_graph (edges and exact counts), then the feed effects of each edge
 * (backfill on follow, removal on unfollow); koos CDC → fan-out of new top-level koos to
 * followers' feeds (pulled at read time for eminent authors), retraction of deleted ones.
 */
export class FeedWorker extends WorkerBase<FeedWorkerParts, FeedEvent> {
  readonly name = 'feed';
  readonly topics = feedTopics;
  private readonly settings: FeedSettings;
  private readonly fanOut: FanOut;

  constructor(parts: FeedWorkerParts) {
    super(parts.config.FEED_GROUP_ID, parts);
    this.settings = feedSettings(parts.config);
    this.fanOut = new FanOut({
      graph: parts.graph,
      feed: parts.feed,
      settings: this.settings,
      pageSize: parts.config.FEED_FANOUT_PAGE,
      concurrency: parts.config.SINK_CONCURRENCY,
    });
  }

  decode(record: RawRecord): FeedEvent | null {
    return decodeFeedEvent(record);
  }

  async handle(batch: DecodedRecord<FeedEvent>[], ctx: HandlerContext): Promise<void> {
    const edges: EdgeChange[] = [];
    const koos: ChangeEvent<KooRow>[] = [];
    for (const { raw, value } of batch) {
      if (value.kind === 'follow') edges.push(edgeChange(value.change, raw.partition));
      else koos.push(value.change);
    }
    await this.applyFollows(latestPerKey(edges, edgeId), ctx);
    await this.applyKoos(koos, ctx);
  }

  private async applyFollows(edges: EdgeChange[], ctx: HandlerContext): Promise<void> {
    if (edges.length === 0) return;
    const now = this.now();
    const stored = await this.parts.graph.getEdges(edges);
    const writes: EdgeWrite[] = [];
    const current: EdgeChange[] = [];
    for (const change of edges) {
      const before = stored.get(edgeId(change))!;
      const step = edgeStep(change, before);
      if (step === 'stale') continue; // a newer change of the edge is stored, with its effects
      if (step !== 'redo') writes.push({ change, expectedVersion: before.version, flips: step === 'flip' });
      // A refresh (a snapshot read of an edge as it stands) has had its effects: only its version is new.
      if (step !== 'refresh') current.push(change);
    }
    await this.parts.graph.applyEdges(writes, now, this.settings);
    const authors = unique(current.filter((c) => c.active).map((c) => c.followeeId));
    const [users, followers] = await Promise.all([
      this.parts.feed.getUsers(authors),
      this.parts.graph.followerCounts(authors),
    ]);
    await mapConcurrent(
      current,
      this.parts.config.SINK_CONCURRENCY,
      async (change) => {
        if (!change.active) {
          const removed = await this.parts.feed.removeAuthor(change.followerId, change.followeeId);
          metrics.feedEntries.inc({ operation: 'delete', cause: 'unfollow' }, removed);
          return;
        }
        const author = change.followeeId;
        // An eminent author's koos are pulled at read time: nothing to copy.
        if (isPulledAuthor(users.get(author), followers.get(author) ?? 0, this.settings)) return;
        await this.backfill(change.followerId, author, now);
      },
      ctx.signal,
    );
  }

  /** Gives a new follower the author's newest koos, then trims their feed. */
  private async backfill(followerId: string, authorId: string, now: number): Promise<void> {
    const wanted = this.parts.config.FEED_BACKFILL_KOOS;
    if (wanted === 0) return;
    // The feed worker's own index first (it meets koos the content view does not show yet, see
    // authorKoosId); by_creator for koos indexed before the index existed. by_creator holds
    // replies too: reading a few times the wanted count usually finds enough roots.
    const [indexed, byCreator] = await Promise.all([
      this.parts.feed.newestOfAuthor(authorId, wanted),
      this.parts.feed.newestByCreator(authorId, wanted * 4),
    ]);
    const koos = newestKoos(
      [...indexedKoos(indexed, now), ...backfillKoos(byCreator, wanted, now, this.settings)],
      wanted,
    );
    if (koos.length === 0) return;
    await this.parts.feed.writeEntries(koos.map((k) => ({ put: feedEntry(followerId, k, this.settings) })));
    // A koo retracted while we read (its delete is on another partition) must not stay: its record
    // says so once the retraction started, and the retraction started before it paged this follower
    // or after these puts, so reading the records after the puts catches every such case.
    const records = await this.parts.feed.getRecords(koos.map((k) => k.contentId));
    const retracted = koos.filter((k) => isRetracted(records.get(k.contentId)));
    if (retracted.length > 0)
      await this.parts.feed.writeEntries(retracted.map((k) => ({ delete: feedEntryKey(followerId, k) })));
    const trimmed = await this.parts.feed.trim(followerId, this.settings.cap);
    metrics.feedEntries.inc({ operation: 'put', cause: 'backfill' }, koos.length);
    metrics.feedEntries.inc({ operation: 'delete', cause: 'retract' }, retracted.length);
    metrics.feedEntries.inc({ operation: 'delete', cause: 'trim' }, trimmed);
  }

  private async applyKoos(changes: ChangeEvent<KooRow>[], ctx: HandlerContext): Promise<void> {
    const now = this.now();
    const jobs = kooJobs(changes, now, this.settings);
    if (jobs.length === 0) return;
    const records = await this.parts.feed.getRecords(jobs.map((j) => j.koo.contentId));
    const planned = jobs
      .map((job) => ({ job, plan: planJob(job, records.get(job.koo.contentId)) }))
      .filter(({ plan }) => plan.action !== 'skip');
    // Before the followers are counted, not only before they are paged: a follow whose edge the
    // count misses (it reads 0 and fans out nothing) must find the koo here when it backfills.
    await this.parts.feed.writeEntries(planned.map(({ job }) => authorIndexWrite(job, this.settings)));
    const authors = unique(planned.map(({ job }) => job.koo.authorId));
    const [users, followers] = await Promise.all([
      this.parts.feed.getUsers(authors),
      this.parts.graph.followerCounts(authors),
    ]);
    const decided = planned.map((p) => {
      const author = p.job.koo.authorId;
      return {
        ...p,
        outcome: jobOutcome(p.job, p.plan, users.get(author), followers.get(author) ?? 0, this.settings),
      };
    });

    // Registered as pulled before any of their koos is skipped, so readers always find them.
    const pulledAuthors = unique(
      decided.filter((d) => d.outcome === 'pulled').map((d) => d.job.koo.authorId),
    );
    if (pulledAuthors.length > 0) await this.parts.graph.addPulledAuthors(pulledAuthors);
    await mapConcurrent(
      decided.filter((d) => d.outcome !== 'run'),
      this.parts.config.SINK_CONCURRENCY,
      // A false answer means a newer change of the koo is recorded: nothing left to do for this one.
      ({ job, outcome }) =>
        this.parts.feed.startRecord(
          job.koo.contentId,
          outcome as FanOutState,
          job.version,
          recordExpiry(job, now, this.settings),
        ),
      ctx.signal,
    );
    const runs = decided.flatMap(({ job, plan, outcome }) =>
      outcome === 'run' && plan.action !== 'settle' && plan.action !== 'skip' ? [{ job, plan }] : [],
    );
    await mapConcurrent(
      runs,
      this.parts.config.FEED_FANOUT_CONCURRENCY,
      ({ job, plan }) => this.fanOut.run(job, plan, followers.get(job.koo.authorId) ?? 0, ctx, now),
      ctx.signal,
    );
  }

  sinkReady(): Promise<boolean> {
    return this.parts.graph.reachable();
  }
}

export const feedWorkerModule: WorkerModule<FeedConfig, FeedEvent> = {
  name: 'feed',
  loadConfig: loadFeedConfig,
  create: (config) => createFeedWorker(config),
};

export function createFeedWorker(config: FeedConfig): FeedWorker {
  const dynamo = dynamoFor(config);
  const graph = new GraphStore(
    dynamo,
    { graph: tableName('graph', config.TABLE_PREFIX) },
    config.SINK_CONCURRENCY,
  );
  const feed = new FeedStore(
    dynamo,
    {
      feed: tableName('feed', config.TABLE_PREFIX),
      content: tableName('content', config.TABLE_PREFIX),
      users: tableName('users', config.TABLE_PREFIX),
    },
    config.SINK_CONCURRENCY,
  );
  return new FeedWorker({ graph, feed, config });
}
