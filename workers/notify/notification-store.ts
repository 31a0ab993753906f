import { Queue, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { KooError, errorMessage } from '../../shared/errors/koo-error.ts';
import {
  digestJobId,
  type AggregateRef,
  type Intent,
  type NotificationKind,
  type TracedEvent,
} from './decide.ts';
import type { Actor } from './message.ts';
import type { NotificationQueueConfig } from './notify-config.ts';
import type { LedgerEntry } from './notify-ledger.ts';
import {
  addActorScript,
  markAppliedScript,
  positionScript,
  recordKooScript,
  removeActorScript,
  resolveOrParkScript,
  sealAggregateScript,
  sealDigestScript,
  unlockScript,
} from './notify-scripts.ts';

/** `trace`: the context of the event that queued the job (W3C headers), continued by its delivery. */
export type AggregateJobData = AggregateRef & { generation: number; trace?: Record<string, string> };
export interface DigestJobData {
  recipient: string;
  period: number;
}
export type NotificationJobData = AggregateJobData | DigestJobData;

/** An aggregate job as sealed on its first run; every retry sees the same. */
export interface AggregateView {
  decision: 'send' | 'held' | 'cancelled';
  kind: NotificationKind;
  kooId: string | null;
  count: number;
  actors: Actor[];
  /** For `held`: the rate-limit period whose digest carries it. */
  digestPeriod?: number;
  /** The rate-limit period it was sealed in. */
  period?: number;
  /** Per source partition, the highest offset of an event in it. */
  through?: Record<string, string>;
  /** Restored from the ledger: the sender finished it before Redis lost the state. */
  done?: boolean;
}

/** The notification state's epoch (in Redis): a new one begins each time Redis is found without one. */
export interface StateEpoch {
  id: string;
  /** Set when the epoch began after Redis lost the state: every partition replays from this time. */
  rewindFromMs: number | null;
}

/** One change to an aggregate: an intent with the aggregate it lands in. */
export interface AggregateChange {
  intent: Intent;
  aggregate: AggregateRef;
  /** The trace context of the event behind the intent, when it is traced. */
  trace?: Record<string, string> | undefined;
  /** Where the event behind the intent is in the log (`topic:partition`, offset); a seal records it. */
  source: string;
  offset: string;
}

export interface ActorRef {
  aggregateId: string;
  actor: string;
}

export const aggregateJobId = (d: AggregateJobData) => `${d.id}.${d.generation}`;

/**
 * The one module that talks to Redis for notifications: the `notifications` BullMQ queue, the
 * aggregates (actors per job, added idempotently) and the seals (the frozen view of a job, so
 * that every delivery attempt sends the same content). Owns its connection; `close()` is safe
 * to call twice.
 */
export class NotificationStore {
  readonly queue: Queue<NotificationJobData>;
  readonly redis: Redis;
  private readonly config: NotificationQueueConfig;
  private readonly keyPrefix: string;
  private closed: Promise<void> | undefined;

  constructor(redisUrl: string, config: NotificationQueueConfig) {
    this.config = config;
    // BullMQ's blocking commands need requests that wait for a reconnect instead of failing.
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.queue = new Queue<NotificationJobData>(config.NOTIFY_QUEUE, {
      connection: this.redis,
      prefix: config.NOTIFY_PREFIX,
    });
    this.keyPrefix = `${config.NOTIFY_PREFIX}:${config.NOTIFY_QUEUE}:notify:`;
  }

  private get keepSeconds(): number {
    return Math.ceil(this.config.NOTIFY_KEEP_DAYS * 86_400);
  }

  /** Options of every notification job: retries with exponential backoff, completed kept for dedup, failed kept for ops. */
  jobOptions(jobId: string, delayMs: number): JobsOptions {
    return {
      jobId,
      delay: Math.max(0, delayMs),
      attempts: this.config.NOTIFY_ATTEMPTS,
      backoff: { type: 'exponential', delay: this.config.NOTIFY_BACKOFF_MS },
      removeOnComplete: { age: this.keepSeconds },
      removeOnFail: false,
    };
  }

  /**
   * Applies the changes in order in one round trip. Returns, per aggregate an actor was added to,
   * the generation that holds it, and the actors added among the first few (whom the
   * notification may name). Idempotent: a replayed change finds its actor in place, or (an act
   * taken back later) finds it undone.
   */
  async apply(
    changes: readonly AggregateChange[],
  ): Promise<{ jobs: AggregateJobData[]; toName: ActorRef[] }> {
    if (changes.length === 0) return { jobs: [], toName: [] };
    const pipeline = this.redis.pipeline();
    const ttl = String(this.keepSeconds);
    for (const { intent, aggregate, source, offset } of changes) {
      const args = [this.keyPrefix, aggregate.id, intent.actor, String(intent.eventTimeMs), ttl] as const;
      // Events parked by an older release carry no position: no seal covers them.
      if (intent.op === 'add') pipeline.eval(addActorScript, 0, ...args, source ?? '', offset ?? '-1');
      else pipeline.eval(removeActorScript, 0, ...args);
    }
    const results = await this.exec(pipeline);
    const jobs = new Map<string, AggregateJobData>();
    const toName: ActorRef[] = [];
    changes.forEach(({ intent, aggregate, trace }, i) => {
      if (intent.op !== 'add') return;
      const [generation, rank] = results[i] as [number, number];
      if (generation < 0) return;
      const job: AggregateJobData = { ...aggregate, generation, ...(trace ? { trace } : {}) };
      jobs.set(aggregateJobId(job), job);
      if (rank < this.config.NOTIFY_NAMED_ACTORS)
        toName.push({ aggregateId: aggregate.id, actor: intent.actor });
    });
    return { jobs: [...jobs.values()], toName };
  }

  /**
   * Remembers who created these koos (for `ttlMs`) and returns the events parked for each, which
   * stay parked until `releaseParked`: a crash in between redoes them, and they are idempotent.
   */
  async recordKoos(
    koos: readonly { kooId: string; creator: string }[],
    ttlMs: number,
  ): Promise<Map<string, TracedEvent[]>> {
    if (koos.length === 0) return new Map();
    const pipeline = this.redis.pipeline();
    for (const k of koos)
      pipeline.eval(recordKooScript, 0, this.keyPrefix, k.kooId, k.creator, String(ttlMs));
    const results = (await this.exec(pipeline)) as string[][];
    return new Map(
      koos
        .map((k, i) => [k.kooId, results[i]!.map((json) => JSON.parse(json) as TracedEvent)] as const)
        .filter(([, parked]) => parked.length > 0),
    );
  }

  /**
   * For each event, its koo's creator if the koo's create was recorded; otherwise the event is
   * parked until it is (for `ttlMs`). Returns the creators found.
   */
  async resolveOrPark(
    waiting: readonly { kooId: string; parked: TracedEvent }[],
    ttlMs: number,
  ): Promise<Map<string, string>> {
    if (waiting.length === 0) return new Map();
    const pipeline = this.redis.pipeline();
    for (const w of waiting)
      pipeline.eval(resolveOrParkScript, 0, this.keyPrefix, w.kooId, JSON.stringify(w.parked), String(ttlMs));
    const results = (await this.exec(pipeline)) as (string | null)[];
    return new Map(waiting.flatMap((w, i) => (results[i] ? [[w.kooId, results[i]] as const] : [])));
  }

  /** Drops the parked events of these koos once they are applied (no event parks once a koo's creator is recorded). */
  async releaseParked(kooIds: Iterable<string>): Promise<void> {
    const keys = [...kooIds].map((k) => `${this.keyPrefix}parked:${k}`);
    if (keys.length === 0) return;
    await this.redis.del(...keys).catch((err: unknown) => {
      throw this.unavailable(err);
    });
  }

  /** Records the handles a notification shows for its first actors (actors without one are shown by id). */
  async name(actors: readonly (ActorRef & { handle: string })[]): Promise<void> {
    if (actors.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const { aggregateId, actor, handle } of actors) {
      const key = `${this.keyPrefix}names:${aggregateId}`;
      pipeline.hset(key, actor, handle).expire(key, this.keepSeconds);
    }
    await this.exec(pipeline);
  }

  /** Queues one delayed job per aggregate generation, due when its window ends; an existing job id is left as it is. */
  async schedule(jobs: readonly AggregateJobData[], nowMs: number): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue
      .addBulk(
        jobs.map((data) => ({
          name: 'aggregate',
          data,
          opts: this.jobOptions(aggregateJobId(data), data.windowEndMs - nowMs),
        })),
      )
      .catch((err: unknown) => {
        throw this.unavailable(err);
      });
  }

  async scheduleDigest(recipient: string, period: number, periodMs: number, nowMs: number): Promise<void> {
    await this.queue.add(
      'digest',
      { recipient, period },
      this.jobOptions(digestJobId(recipient, period), period * periodMs - nowMs),
    );
  }

  /** The job's seal, parsed (`view`) and as Redis holds it (`raw`, JSON). */
  async sealAggregate(
    job: AggregateJobData,
    limits: { namedActors: number; perRecipient: number; period: number },
  ): Promise<{ view: AggregateView; raw: string }> {
    const raw = (await this.redis.eval(
      sealAggregateScript,
      0,
      this.keyPrefix,
      aggregateJobId(job),
      job.id,
      job.recipient,
      job.kind,
      job.kooId ?? '',
      String(limits.namedActors),
      String(limits.perRecipient),
      String(limits.period),
      String(this.keepSeconds),
    )) as string;
    return { view: parseView(JSON.parse(raw) as AggregateView), raw };
  }

  /** Where a source partition stands: the epoch (none when Redis lost it) and the offset after the last chunk applied in it. */
  async position(source: string): Promise<{ epoch?: StateEpoch; next?: bigint }> {
    const [epoch, next] = (await this.redis
      .eval(positionScript, 0, this.keyPrefix, source)
      .catch((err: unknown) => {
        throw this.unavailable(err);
      })) as [string | null, string | null];
    return {
      ...(epoch ? { epoch: JSON.parse(epoch) as StateEpoch } : {}),
      ...(next ? { next: BigInt(next) } : {}),
    };
  }

  async markApplied(epochId: string, source: string, nextOffset: bigint): Promise<void> {
    await this.redis
      .eval(markAppliedScript, 0, this.keyPrefix, epochId, source, nextOffset.toString())
      .catch((err: unknown) => {
        throw this.unavailable(err);
      });
  }

  /** Takes the right to rebuild the state for `ms`; false while another member holds it. */
  async lockRecovery(owner: string, ms: number): Promise<boolean> {
    return (await this.redis.set(`${this.keyPrefix}recovering`, owner, 'PX', ms, 'NX')) === 'OK';
  }

  /** Gives the right to rebuild back, if `owner` still holds it. */
  async unlockRecovery(owner: string): Promise<void> {
    await this.redis.eval(unlockScript, 1, `${this.keyPrefix}recovering`, owner);
  }

  /** Rebuilds what the ledger knows of these finished jobs: seals marked done, rate-limit counts, held sets, finished digests. */
  async restoreFinished(entries: readonly LedgerEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const ttl = this.keepSeconds;
    const pipeline = this.redis.pipeline();
    for (const entry of entries) {
      if (entry.kind === 'digest') {
        pipeline.set(
          `${this.keyPrefix}snap:${entry.jobId}`,
          JSON.stringify({ jobs: {}, done: true }),
          'EX',
          ttl,
        );
        continue;
      }
      const view = JSON.parse(entry.view) as AggregateView;
      pipeline.set(
        `${this.keyPrefix}snap:${entry.jobId}`,
        JSON.stringify({ ...view, done: true }),
        'EX',
        ttl,
      );
      if (view.decision === 'cancelled' || view.period === undefined) continue;
      const rate = `${this.keyPrefix}rate:${entry.recipient}:${view.period}`;
      pipeline.incr(rate).expire(rate, ttl);
      if (view.decision === 'held') {
        const held = `${this.keyPrefix}held:${entry.recipient}:${view.digestPeriod}`;
        pipeline.sadd(held, entry.jobId).expire(held, ttl);
      }
    }
    await this.exec(pipeline);
  }

  /** Begins an epoch, which lets every script write again, and gives the right to rebuild back. */
  async beginEpoch(epoch: StateEpoch): Promise<void> {
    await this.exec(
      this.redis
        .pipeline()
        .set(`${this.keyPrefix}epoch`, JSON.stringify(epoch))
        .del(`${this.keyPrefix}recovering`),
    );
  }

  /** The frozen views of the jobs a digest merges, by job id (none when `done`: finished before Redis lost the state). */
  async sealDigest(job: DigestJobData): Promise<{ views: Map<string, AggregateView>; done: boolean }> {
    const raw = (await this.redis.eval(
      sealDigestScript,
      0,
      this.keyPrefix,
      job.recipient,
      String(job.period),
      String(this.keepSeconds),
    )) as string;
    const { jobs, done } = JSON.parse(raw) as { jobs: Record<string, AggregateView>; done?: boolean };
    return {
      views: new Map(Object.entries(jobs).map(([id, view]) => [id, parseView(view)])),
      done: done === true,
    };
  }

  private async exec(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      throw this.unavailable(err);
    }
    if (!results) throw this.unavailable(new Error('pipeline discarded'));
    const failed = results.find(([err]) => err);
    if (failed) throw this.unavailable(failed[0]);
    return results.map(([, value]) => value);
  }

  private unavailable(cause: unknown): KooError {
    const message = errorMessage(cause);
    // A script that found no epoch: Redis came back empty (redis-loss.ts).
    const code = message.startsWith('STATE_LOST') ? 'STATE_LOST' : 'SINK_UNAVAILABLE';
    return new KooError(code, `redis: ${message}`, { retriable: true, cause });
  }

  /** Deletes the queue and every aggregate, seal and counter under the prefix (tests, benchmarks). */
  async obliterate(): Promise<void> {
    await this.queue.obliterate({ force: true });
    for await (const keys of this.redis.scanStream({ match: `${this.keyPrefix}*`, count: 1000 })) {
      if ((keys as string[]).length > 0) await this.redis.unlink(...(keys as string[]));
    }
  }

  async ping(): Promise<boolean> {
    return this.redis.ping().then(
      () => true,
      () => false,
    );
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.queue.close();
      await this.redis.quit().catch(() => this.redis.disconnect());
    })();
    return this.closed;
  }
}

/** A view as Lua wrote it: cjson writes an empty table as {}, and the scripts write no koo as ''. */
function parseView(view: AggregateView): AggregateView {
  return { ...view, kooId: view.kooId || null, actors: Array.isArray(view.actors) ? view.actors : [] };
}
