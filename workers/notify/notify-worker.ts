import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import { followRowSchema, kooRowSchema } from '../../schemas/cdc.ts';
import { reactionContract, type Reaction } from '../../schemas/reaction.ts';
import { RegistryCodec } from '../../shared/avro/registry-codec.ts';
import { decodeChangeEvent } from '../../shared/cdc/debezium.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';
import type { DecodedRecord, RawRecord } from '../../shared/kafka/records.ts';
import { metrics } from '../../shared/metrics/metrics.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import type { WorkerModule } from '../../shared/runtime/run-worker.ts';
import { WorkerBase, type Resume, type WorkerParts } from '../../shared/runtime/worker-definition.ts';
import {
  aggregatesOf,
  createdKoos,
  intentOf,
  kooIdsToResolve,
  kooOf,
  type NotifyEvent,
  type TracedEvent,
} from './decide.ts';
import { NotificationStore, type AggregateChange } from './notification-store.ts';
import { traceCarrierOfRecord } from '../../shared/telemetry/tracing.ts';
import { loadNotifyConfig, type NotifyConfig } from './notify-config.ts';
import { notifyLedgerFor } from './notify-ledger.ts';
import { ProfileLookup } from './profile-lookup.ts';
import { RedisLossGuard } from './redis-loss.ts';

export const notifyTopics = [topicNames.reactions, topicNames.koos, topicNames.follows];

export interface NotifyWorkerParts extends WorkerParts<NotifyConfig> {
  codec: RegistryCodec<Reaction>;
  lookup: ProfileLookup;
  store: NotificationStore;
  guard: RedisLossGuard;
}

/**
 * notify: reactions, replies and follows → actors added to aggregates in Redis, and one delayed
 * BullMQ job per aggregate, due when its window ends (the sender delivers it). Per batch: read
 * the creators of the koos it names and whether they are eminent (one BatchGetItem round each),
 * decide the intents, apply them in one Redis round trip, name the first actors, queue the jobs. Every step is
 * idempotent, so a redelivered batch or a replay adds no actor and no job twice.
 */
export class NotifyWorker extends WorkerBase<NotifyWorkerParts, NotifyEvent> {
  readonly name = 'notify';
  readonly topics = notifyTopics;

  constructor(parts: NotifyWorkerParts) {
    super(parts.config.NOTIFY_GROUP_ID, parts);
  }

  prepare(records: readonly RawRecord[]): Promise<void> {
    return this.parts.codec.prepare(
      records.filter((r) => r.topic === topicNames.reactions).map((r) => r.value),
    );
  }

  /**
   * Reactions, new koos (replies notify; top-level koos release what came before them), follows
   * and unfollows; null for the rest (snapshot reads are old koos, not news).
   */
  decode(record: RawRecord): NotifyEvent | null {
    if (record.topic === topicNames.reactions)
      return { source: 'reaction', reaction: this.parts.codec.decodeRecord(record) };
    if (record.topic === topicNames.koos) {
      const change = decodeChangeEvent(record, kooRowSchema);
      if (change?.op !== 'c') return null;
      return change.after!.parent_id !== null ? { source: 'reply', change } : { source: 'koo', change };
    }
    const change = decodeChangeEvent(record, followRowSchema);
    return change && (change.op === 'c' || change.op === 'd') ? { source: 'follow', change } : null;
  }

  async handle(batch: DecodedRecord<NotifyEvent>[]): Promise<void> {
    const ttlMs = this.parts.config.NOTIFY_PARK_TTL_MS;
    const traced: TracedEvent[] = batch.map((r) => ({
      event: r.value,
      trace: traceCarrierOfRecord(r.raw),
      source: `${r.raw.topic}:${r.raw.partition}`,
      offset: r.raw.offset,
    }));
    // Koos created in this batch: their creators are known, and the events that came before them are released.
    const created = createdKoos(traced.map((t) => t.event));
    const released = await this.parts.store.recordKoos(created, ttlMs);
    const events = [...traced, ...[...released.values()].flat()];
    const creators = new Map(created.map((k) => [k.kooId, k.creator]));
    const unknown = kooIdsToResolve(events.map((e) => e.event)).filter((k) => !creators.has(k));
    for (const [koo, creator] of await this.parts.lookup.creators(unknown)) creators.set(koo, creator);
    // A koo no view has yet (its create is late, or the content worker lags): its events wait for
    // the create on the koos topic, unless a replica recorded it meanwhile.
    const waiting = events.flatMap((e) => {
      const kooId = kooOf(e.event);
      return kooId !== undefined && !creators.has(kooId) ? [{ kooId, parked: e }] : [];
    });
    for (const [koo, creator] of await this.parts.store.resolveOrPark(waiting, ttlMs))
      creators.set(koo, creator);
    const intents = events.flatMap((traced) => {
      const intent = intentOf(traced.event, creators);
      return intent ? [{ ...traced, intent }] : [];
    });
    const recipients = await this.parts.lookup.profiles([...new Set(intents.map((i) => i.intent.recipient))]);
    const changes: AggregateChange[] = intents.flatMap(({ intent, trace, source, offset }) => {
      const window = recipients.get(intent.recipient)?.eminent
        ? this.parts.config.NOTIFY_EMINENT_WINDOW_MS
        : this.parts.config.NOTIFY_WINDOW_MS;
      return aggregatesOf(intent, window).map((aggregate) => ({ intent, aggregate, trace, source, offset }));
    });
    const { jobs, toName } = await this.parts.store.apply(changes);
    // Handles only of the actors a notification may name: a few per aggregate, not one per event.
    const actors = await this.parts.lookup.profiles([...new Set(toName.map((a) => a.actor))]);
    await this.parts.store.name(
      toName.flatMap((a) => {
        const handle = actors.get(a.actor)?.handle;
        return handle ? [{ ...a, handle }] : [];
      }),
    );
    // Aggregates fill before their jobs are queued: a job never fires on an actor not yet added.
    await this.parts.store.schedule(jobs, this.now());
    await this.parts.store.releaseParked(released.keys());
    const parked = waiting.filter((w) => !creators.has(w.kooId)).length;
    const notifying = events.filter((e) => e.event.source !== 'koo').length;
    if (parked > 0) metrics.notifyEventsParked.inc(parked);
    if (notifying - intents.length - parked > 0)
      metrics.notifyEventsSkipped.inc(notifying - intents.length - parked);
    metrics.notifyJobsScheduled.inc(jobs.length);
  }

  /** A Redis that lost the state sends the partition back (redis-loss.ts). */
  resumeFrom(topic: string, partition: number, firstOffset: bigint): Promise<Resume | undefined> {
    return this.parts.guard.resumeFrom(topic, partition, firstOffset);
  }

  handled(topic: string, partition: number, nextOffset: bigint): Promise<void> {
    return this.parts.guard.handled(topic, partition, nextOffset);
  }

  sinkReady(): Promise<boolean> {
    return this.parts.store.ping();
  }

  close(): Promise<void> {
    return this.parts.store.close();
  }
}

export function createNotifyWorker(config: NotifyConfig, logger: Logger): NotifyWorker {
  const dynamo = dynamoFor(config);
  const lookup = new ProfileLookup(
    dynamo,
    { content: tableName('content', config.TABLE_PREFIX), users: tableName('users', config.TABLE_PREFIX) },
    config.SINK_CONCURRENCY,
  );
  const codec = new RegistryCodec(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), reactionContract);
  const store = new NotificationStore(config.REDIS_URL, config);
  const now = () => Date.now();
  const guard = new RedisLossGuard({
    store,
    ledger: notifyLedgerFor(dynamo, config),
    rewindMs: config.NOTIFY_REWIND_MS,
    now,
    logger,
  });
  return new NotifyWorker({ codec, lookup, store, guard, config, now });
}

export const notifyWorkerModule: WorkerModule<NotifyConfig, NotifyEvent> = {
  name: 'notify',
  loadConfig: loadNotifyConfig,
  create: createNotifyWorker,
};
