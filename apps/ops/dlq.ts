import { Partitioners, type Admin, type Kafka } from 'kafkajs';
import {
  dlqEntryOf,
  matchesDlqFilter,
  oldestFirst,
  redriveMessageOf,
  type DlqEntry,
  type DlqFilter,
} from './dlq-records.ts';
import { readTopicToEnd } from './kafka-ops.ts';

/** The DLQ's dead letters that match, oldest failure first, at most `limit`. */
export async function listDlq(
  kafka: Kafka,
  admin: Admin,
  dlqTopic: string,
  filter: DlqFilter,
  limit?: number,
): Promise<DlqEntry[]> {
  const matches: DlqEntry[] = [];
  await readTopicToEnd(kafka, admin, dlqTopic, (partition, m) => {
    const entry = dlqEntryOf({
      partition,
      offset: m.offset,
      key: m.key ?? null,
      value: m.value ?? null,
      headers: m.headers ?? {},
    });
    if (matchesDlqFilter(entry, filter)) matches.push(entry);
  });
  return oldestFirst(matches, limit);
}

/**
 * Puts dead letters back on their source topics (see redriveMessageOf), in the order given,
 * `chunkSize` at a time, each chunk on all in-sync replicas before the next. The producer is
 * idempotent (a retried send writes once) and partitions by key with murmur2, like Debezium's
 * and the workers' producers, so a keyed record lands in the partition of its key's other changes.
 */
export async function redriveDlq(
  kafka: Kafka,
  entries: readonly DlqEntry[],
  { chunkSize = 500, onProgress }: { chunkSize?: number; onProgress?: (done: number) => void } = {},
): Promise<void> {
  const messages = entries.map(redriveMessageOf); // all checked before the first send
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += chunkSize) {
      const chunk = messages.slice(i, i + chunkSize);
      const topics = [...new Set(chunk.map((m) => m.topic))];
      await producer.sendBatch({
        acks: -1,
        topicMessages: topics.map((topic) => ({
          topic,
          messages: chunk.filter((m) => m.topic === topic).map((m) => m.message),
        })),
      });
      onProgress?.(i + chunk.length);
    }
  } finally {
    await producer.disconnect();
  }
}
