import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import { followRowSchema, kooRowSchema } from '../../schemas/cdc.ts';
import { reactionContract, type Reaction } from '../../schemas/reaction.ts';
import { RegistryCodec } from '../../shared/avro/registry-codec.ts';
import { decodeChangeEvent } from '../../shared/cdc/debezium.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';
import type { DecodedRecord, RawRecord } from '../../shared/kafka/records.ts';
import { metrics } from '../../shared/metrics/metrics.ts';
import type { WorkerModule } from '../../shared/runtime/run-worker.ts';
import type { WorkerDefinition } from '../../shared/runtime/worker-definition.ts';
import { aggregatesOf, intentOf, kooIdsToResolve, type NotifyEvent } from './decide.ts';
import { NotificationStore, type AggregateChange } from './notification-store.ts';
import { traceCarrierOfRecord } from '../../shared/telemetry/tracing.ts';
import { loadNotifyConfig, type NotifyConfig } from './notify-config.ts';
import { ProfileLookup } from './profile-lookup.ts';

export const notifyTopics = [topicNames.reactions, topicNames.koos, topicNames.follows];

/**
 * notify: reactions, replies and follows → actors added to aggregates in Redis, and one delayed
 * BullMQ job per aggregate, due when its window ends (the sender delivers it). Per batch: read
 * the creators of the koos it names and whether they are eminent (one BatchGetItem round each),
 * decide the intents, apply them in one Redis round trip, name the first actors, queue the jobs. Every step is
 * idempotent, so a redelivered batch or a replay adds no actor and no job twice.
 */
export class NotifyWorker implements WorkerDefinition<NotifyEvent> {
  readonly name = 'notify';
  readonly topics = notifyTopics;
  readonly groupId: string;
  private readonly codec: RegistryCodec<Reaction>;
  private readonly lookup: ProfileLookup;
  private readonly store: NotificationStore;
  private readonly config: NotifyConfig;
  private readonly now: () => number;

  constructor(
    codec: RegistryCodec<Reaction>,
    lookup: ProfileLookup,
    store: NotificationStore,
    config: NotifyConfig,
    now: () => number = Date.now,
  ) {
    this.codec = codec;
    this.lookup = lookup;
    this.store = store;
    this.config = config;
    this.now = now;
    this.groupId = config.NOTIFY_GROUP_ID;
  }

  prepare(records: readonly RawRecord[]): Promise<void> {
    return this.codec.prepare(records.filter((r) => r.topic === topicNames.reactions).map((r) => r.value));
  }

  /** Reactions, new replies (snapshot reads are old koos, not news), follows and unfollows; null for the rest. */
  decode(record: RawRecord): NotifyEvent | null {
    if (record.topic === topicNames.reactions)
      return { source: 'reaction', reaction: this.codec.decodeRecord(record) };
    if (record.topic === topicNames.koos) {
      const change = decodeChangeEvent(record, kooRowSchema);
      return change?.op === 'c' && change.after!.parent_id !== null ? { source: 'reply', change } : null;
    }
    const change = decodeChangeEvent(record, followRowSchema);
    return change && (change.op === 'c' || change.op === 'd') ? { source: 'follow', change } : null;
  }

  async handle(batch: DecodedRecord<NotifyEvent>[]): Promise<void> {
    const events = batch.map((r) => r.value);
    const creators = await this.lookup.creators(kooIdsToResolve(events));
    const intents = batch.flatMap((r) => {
      const intent = intentOf(r.value, creators);
      return intent ? [{ intent, trace: traceCarrierOfRecord(r.raw) }] : [];
    });
    const recipients = await this.lookup.profiles([...new Set(intents.map((i) => i.intent.recipient))]);
    const changes: AggregateChange[] = intents.flatMap(({ intent, trace }) => {
      const window = recipients.get(intent.recipient)?.eminent
        ? this.config.NOTIFY_EMINENT_WINDOW_MS
        : this.config.NOTIFY_WINDOW_MS;
      return aggregatesOf(intent, window).map((aggregate) => ({ intent, aggregate, trace }));
    });
    const { jobs, toName } = await this.store.apply(changes);
    // Handles only of the actors a notification may name: a few per aggregate, not one per event.
    const actors = await this.lookup.profiles([...new Set(toName.map((a) => a.actor))]);
    await this.store.name(
      toName.flatMap((a) => {
        const handle = actors.get(a.actor)?.handle;
        return handle ? [{ ...a, handle }] : [];
      }),
    );
    // Aggregates fill before their jobs are queued: a job never fires on an actor not yet added.
    await this.store.schedule(jobs, this.now());
    const skipped = events.length - intents.length;
    if (skipped > 0) metrics.notifyEventsSkipped.inc(skipped);
    metrics.notifyJobsScheduled.inc(jobs.length);
  }

  sinkReady(): Promise<boolean> {
    return this.store.ping();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

export function createNotifyWorker(config: NotifyConfig): NotifyWorker {
  const dynamo = dynamoFor(config);
  const lookup = new ProfileLookup(
    dynamo,
    { content: tableName('content', config.TABLE_PREFIX), users: tableName('users', config.TABLE_PREFIX) },
    config.SINK_CONCURRENCY,
  );
  const codec = new RegistryCodec(new SchemaRegistry({ host: config.SCHEMA_REGISTRY_URL }), reactionContract);
  return new NotifyWorker(codec, lookup, new NotificationStore(config.REDIS_URL, config), config);
}

export const notifyWorkerModule: WorkerModule<NotifyConfig, NotifyEvent> = {
  name: 'notify',
  loadConfig: loadNotifyConfig,
  create: (config) => createNotifyWorker(config),
};
