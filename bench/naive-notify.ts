import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { topicNames } from '../schemas/topics.ts';
import type { Reaction } from '../schemas/reaction.ts';
import type { RegistryCodec } from '../shared/avro/registry-codec.ts';
import type { DecodedRecord, RawRecord } from '../shared/kafka/records.ts';
import type { WorkerConfig } from '../shared/runtime/run-worker.ts';
import { WorkerBase, type WorkerParts } from '../shared/runtime/worker-definition.ts';
import type { ProfileLookup } from '../workers/notify/profile-lookup.ts';

export interface NaiveNotifyParts extends WorkerParts<WorkerConfig> {
  codec: RegistryCodec<Reaction>;
  lookup: ProfileLookup;
  queue: Queue;
}

/**
 * The baseline the notify worker is measured against: one job per reaction (job id = event id,
 * so it is still deduplicated), no aggregation, no rate limit; and a sender that completes each.
 * It reads the creators the same way (one BatchGetItem round per batch), so the difference is
 * the queue traffic.
 */
export class NaiveNotifyWorker extends WorkerBase<NaiveNotifyParts, Reaction> {
  readonly name = 'naive-notify';
  readonly topics = [topicNames.reactions];

  prepare(records: readonly RawRecord[]): Promise<void> {
    return this.parts.codec.prepare(records.map((r) => r.value));
  }

  decode(record: RawRecord): Reaction {
    return this.parts.codec.decode(record.value);
  }

  async handle(batch: DecodedRecord<Reaction>[]): Promise<void> {
    const creators = await this.parts.lookup.creators([...new Set(batch.map((r) => r.value.content_id))]);
    const jobs = batch.flatMap(({ value: r }) => {
      const recipient = creators.get(r.content_id);
      if (recipient === undefined || recipient === r.user_id || r.type === 'unlike') return [];
      return [
        {
          name: r.type,
          data: { recipient, kooId: r.content_id, actor: r.user_id },
          opts: { jobId: r.event_id, removeOnComplete: { age: 3600 } },
        },
      ];
    });
    await this.parts.queue.addBulk(jobs);
  }
}

/** Completes every job of the queue (the transport is not what is measured). */
export function naiveSender(queueName: string, redis: Redis, prefix: string, concurrency: number): Worker {
  return new Worker(queueName, async () => 'delivered', { connection: redis, prefix, concurrency });
}
