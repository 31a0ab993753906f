/** Kafka I/O of the ops commands: thin adapters over the kafkajs admin and consumer. */
import { randomBytes } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { pino } from 'pino';
import type { CommonConfig } from '../../shared/config/common.ts';
import { setGroupOffsets } from '../../shared/kafka/consumer-lag.ts';
import { createKafka, kafkaClientOptions } from '../../shared/kafka/kafka-client.ts';
import { partitionKey } from '../../shared/kafka/records.ts';
import type { GroupMembership, PartitionPosition } from './replay-plan.ts';

/** A client whose warnings go to stderr: stdout carries only the command's result (a table, JSON). */
export function opsKafka(config: CommonConfig): Kafka {
  const logger = pino({ level: 'warn', base: { component: 'koo-ops' } }, pino.destination(2));
  return createKafka(kafkaClientOptions(config, `${config.KAFKA_CLIENT_ID}-ops`), logger);
}

export async function withAdmin<R>(kafka: Kafka, run: (admin: Admin) => Promise<R>): Promise<R> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await run(admin);
  } finally {
    await admin.disconnect();
  }
}

/** State and member count of each group, in the order asked (a group never seen is Dead with 0 members). */
export async function describeGroups(admin: Admin, groupIds: readonly string[]): Promise<GroupMembership[]> {
  if (groupIds.length === 0) return [];
  const { groups } = await admin.describeGroups([...new Set(groupIds)]);
  return groupIds.map((groupId) => {
    const g = groups.find((d) => d.groupId === groupId);
    return { groupId, state: g?.state ?? 'Dead', members: g?.members.length ?? 0 };
  });
}

/** The group's committed offset per `topic/partition`; partitions it never committed are left out. */
export async function committedOffsets(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<Map<string, bigint>> {
  const committed = new Map<string, bigint>();
  for (const { topic, partitions } of await admin.fetchOffsets({ groupId, topics: [...topics] })) {
    for (const p of partitions) {
      if (p.offset !== '-1') committed.set(partitionKey(topic, p.partition), BigInt(p.offset));
    }
  }
  return committed;
}

/** Every partition of the topics: log start and end, and the group's committed offset. */
export async function partitionPositions(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<PartitionPosition[]> {
  const committed = await committedOffsets(admin, groupId, topics);
  const positions: PartitionPosition[] = [];
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      positions.push({
        topic,
        partition: p.partition,
        low: BigInt(p.low),
        high: BigInt(p.high),
        committed: committed.get(partitionKey(topic, p.partition)) ?? null,
      });
    }
  }
  return positions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Per `topic/partition`: the first offset whose record timestamp is at or after `at` (the log end if none is). */
export async function offsetsAtTime(
  admin: Admin,
  topics: readonly string[],
  at: number,
): Promise<Map<string, bigint>> {
  const offsets = new Map<string, bigint>();
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, at)) {
      offsets.set(partitionKey(topic, p.partition), BigInt(p.offset));
    }
  }
  return offsets;
}

/** Commits the offsets of a group that has no members (it refuses one that has). */
export async function commitOffsets(
  kafka: Kafka,
  groupId: string,
  offsets: readonly { topic: string; partition: number; offset: bigint }[],
): Promise<void> {
  await setGroupOffsets(
    kafka,
    groupId,
    [...new Set(offsets.map((o) => o.topic))].map((topic) => ({
      topic,
      partitions: offsets
        .filter((o) => o.topic === topic)
        .map((o) => ({ partition: o.partition, offset: o.offset.toString() })),
    })),
  );
}

/** Deletes a group that has no members; one that does not exist (or no longer) is fine. */
export async function deleteGroup(admin: Admin, groupId: string): Promise<void> {
  try {
    await admin.deleteGroups([groupId]);
  } catch (err) {
    const groups = (err as { groups?: { error?: { type?: string } }[] }).groups ?? [];
    if (!groups.every((g) => g.error?.type === 'GROUP_ID_NOT_FOUND')) throw err;
  }
}

/**
 * Reads a topic from its start to the end it has when the read begins (records produced meanwhile
 * are left out), under a throwaway group that commits nothing and is deleted afterwards. Fails if
 * no record arrives for `stallMs` before the end is reached.
 */
export async function readTopicToEnd(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  onMessage: (partition: number, message: KafkaMessage) => void,
  { stallMs = 30_000 } = {},
): Promise<void> {
  const ends = new Map(
    (await admin.fetchTopicOffsets(topic))
      .filter((p) => BigInt(p.high) > BigInt(p.low))
      .map((p) => [p.partition, BigInt(p.high)]),
  );
  if (ends.size === 0) return;
  const groupId = `koo-ops-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      let stall: NodeJS.Timeout;
      const watchdog = () => {
        clearTimeout(stall);
        stall = setTimeout(
          () => reject(new Error(`no record of ${topic} for ${stallMs} ms before its end was reached`)),
          stallMs,
        );
      };
      watchdog();
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            watchdog();
            const end = ends.get(batch.partition);
            if (end === undefined) return;
            for (const message of batch.messages) {
              if (BigInt(message.offset) < end) onMessage(batch.partition, message);
            }
            // lastOffset() covers records the batch filtered out (transaction markers).
            if (BigInt(batch.lastOffset()) + 1n >= end) ends.delete(batch.partition);
            if (ends.size === 0) {
              clearTimeout(stall);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    await deleteGroup(admin, groupId);
  }
}
