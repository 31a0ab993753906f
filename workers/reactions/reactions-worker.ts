import { createSchemaRegistry } from '../../shared/avro/schema-registry-client.ts';
import { z } from 'zod';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import { reactionContract, type Reaction } from '../../schemas/reaction.ts';
import { RegistryCodec } from '../../shared/avro/registry-codec.ts';
import { env, loadConfig } from '../../shared/config/load-config.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';
import { packTransactions } from '../../shared/dynamodb/transact.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import type { DecodedRecord, RawRecord } from '../../shared/kafka/records.ts';
import { mapConcurrent } from '../../shared/runtime/backoff.ts';
import { workerConfigSchema, type WorkerModule } from '../../shared/runtime/run-worker.ts';
import {
  WorkerBase,
  type HandlerContext,
  type Rejection,
  type WorkerParts,
} from '../../shared/runtime/worker-definition.ts';
import { misplacedEvents, pendingEvents, planBatch } from './decide.ts';
import { ReactionStore } from './reaction-store.ts';

export const reactionsTopics = [topicNames.reactions];

export const reactionsConfigSchema = workerConfigSchema.safeExtend({
  REACTIONS_GROUP_ID: env.string('koo-reactions'),
  /**
   * Bigger batches coalesce more of a popular koo's reactions into one counter update (a
   * compressed 1 MiB fetch holds ~20,000 reactions); a failed batch is redone whole, so not more.
   */
  BATCH_SIZE: env.int(10_000, 1, 100_000),
  /**
   * At a live rate a fetch waits up to FETCH_MAX_WAIT_MS for this much: all partitions' batches
   * then start together and share their reads, and a koo's reactions of the window share a write.
   * 50 ms: at 500 reactions/s, 0.22 DynamoDB requests per reaction and a p99 near 200 ms
   * (`npm run bench -- reactions`; 100 ms: 0.15 and ~290 ms).
   */
  FETCH_MIN_BYTES: env.int(64 * 1024, 1, 64 * 1024 * 1024),
  FETCH_MAX_WAIT_MS: env.int(50, 0, 60_000),
  /** Every partition of a replica (12 in all) at once: one wave of reads per fetch. */
  PARTITIONS_CONCURRENTLY: env.int(12, 1, 1024),
  /** How long a taken-back like is remembered; keep it above koo.reactions' retention (30 days). */
  REACTION_TOMBSTONE_TTL_DAYS: env.int(35, 1),
});
export type ReactionsConfig = z.infer<typeof reactionsConfigSchema>;

export function loadReactionsConfig(environment: NodeJS.ProcessEnv): ReactionsConfig {
  return loadConfig(reactionsConfigSchema, environment);
}

export interface ReactionsWorkerParts extends WorkerParts<ReactionsConfig> {
  codec: RegistryCodec<Reaction>;
  store: ReactionStore;
}

/**
 * reactions: koo.reactions (Avro) → who-reacted items in koo_reactions and exact counters on the
 * koo item in koo_content. Per batch: read the koos' counter fences, drop what they already count,
 * read the (koo, user) items left, fold their events (decide.ts), and write per koo its items,
 * counters and fence, several koos to a fenced transaction of up to 100 actions.
 */
export class ReactionsWorker extends WorkerBase<ReactionsWorkerParts, Reaction> {
  readonly name = 'reactions';
  readonly topics = reactionsTopics;

  constructor(parts: ReactionsWorkerParts) {
    super(parts.config.REACTIONS_GROUP_ID, parts);
  }

  prepare(records: readonly RawRecord[]): Promise<void> {
    return this.parts.codec.prepare(records.map((r) => r.value));
  }

  /** A reaction keyed by another id could sit in another partition than its koo's others, out of reach of the fence. */
  decode(record: RawRecord): Reaction {
    const reaction = this.parts.codec.decodeRecord(record);
    const key = record.key?.toString() ?? null;
    if (key !== reaction.content_id) {
      throw new KooError(
        'VALIDATION_FAILED',
        `record key ${JSON.stringify(key)} is not the content id ${reaction.content_id}`,
        {
          details: { field: 'key' },
        },
      );
    }
    return reaction;
  }

  async handle(batch: DecodedRecord<Reaction>[], ctx: HandlerContext): Promise<Rejection<Reaction>[]> {
    const { partition } = batch[0]!.raw;
    const all = batch.map((r) => ({ reaction: r.value, offset: Number(r.raw.offset), record: r }));
    const { fences, partitions } = await this.parts.store.getFences(all.map((e) => e.reaction.content_id));
    const misplaced = misplacedEvents(all, partitions, partition);
    const rejected = [...misplaced].map((e) => ({
      record: e.record,
      error: new KooError(
        'VALIDATION_FAILED',
        `reactions of koo ${e.reaction.content_id} are counted in partition ${partitions.get(e.reaction.content_id)}, ` +
          `this one came in partition ${partition} (the producer must partition by murmur2 of the key, as the Java client does)`,
        { details: { field: 'key' } },
      ),
    }));
    const events = all.filter((e) => !misplaced.has(e));
    const pending = pendingEvents(events, fences);
    if (pending.length === 0) return rejected; // a replay of what the counters already hold
    const stored = await this.parts.store.getPairs(
      pending.map((e) => ({ contentId: e.reaction.content_id, userId: e.reaction.user_id })),
    );
    const steps = planBatch(pending, fences, stored);
    const expiresAt = Math.floor(this.now() / 1000) + this.parts.config.REACTION_TOMBSTONE_TTL_DAYS * 86_400;
    // Small koos share a transaction (one request for many koos at live rates); a koo's steps
    // go in successive rounds, in order (each expects the fence of the one before).
    for (const round of packTransactions(
      [...Map.groupBy(steps, (step) => step.contentId).values()],
      (step) => step.items.length + 1,
    )) {
      await mapConcurrent(
        round,
        this.parts.config.SINK_CONCURRENCY,
        (transaction) => this.parts.store.applySteps(transaction, partition, expiresAt),
        ctx.signal,
      );
    }
    return rejected;
  }

  sinkReady(): Promise<boolean> {
    return this.parts.store.reachable();
  }
}

export function createReactionsWorker(config: ReactionsConfig): ReactionsWorker {
  const dynamo = dynamoFor(config);
  const store = new ReactionStore(
    dynamo,
    {
      reactions: tableName('reactions', config.TABLE_PREFIX),
      content: tableName('content', config.TABLE_PREFIX),
    },
    config.SINK_CONCURRENCY,
  );
  const codec = new RegistryCodec(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), reactionContract);
  return new ReactionsWorker({ codec, store, config });
}

export const reactionsWorkerModule: WorkerModule<ReactionsConfig, Reaction> = {
  name: 'reactions',
  loadConfig: loadReactionsConfig,
  create: (config) => createReactionsWorker(config),
};
