import type { Admin, Kafka } from 'kafkajs';
import { KooError } from '../errors/koo-error.ts';

export interface PartitionLag {
  topic: string;
  partition: number;
  committed: bigint;
  end: bigint;
  lag: bigint;
}

/** Lag of a consumer group per partition: the log end minus the committed offset (none committed = all). */
export async function consumerGroupLag(
  admin: Admin,
  groupId: string,
  topics: string[],
): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({ groupId, topics });
  const lags: PartitionLag[] = [];
  for (const { topic, partitions } of committed) {
    for (const end of await admin.fetchTopicOffsets(topic)) {
      const c = partitions.find((p) => p.partition === end.partition);
      const at = c && c.offset !== '-1' ? BigInt(c.offset) : BigInt(end.low);
      const high = BigInt(end.high);
      lags.push({
        topic,
        partition: end.partition,
        committed: at,
        end: high,
        lag: high > at ? high - at : 0n,
      });
    }
  }
  return lags;
}

/** A group's committed offset per partition of a topic; partitions it never committed are left out. */
export async function committedByPartition(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(
    (offsets?.partitions ?? []).filter((p) => p.offset !== '-1').map((p) => [p.partition, BigInt(p.offset)]),
  );
}

/** Whether the group has committed the end of the log on every partition of the topics. */
export async function groupCaughtUp(admin: Admin, groupId: string, topics: string[]): Promise<boolean> {
  return (await consumerGroupLag(admin, groupId, topics)).every((p) => p.lag === 0n);
}

/**
 * Commits the current end of the topics for a group that is not running, so it starts with what
 * is produced from now on (a new deployment that must not replay history; tests; benchmarks).
 */
export async function moveGroupToEnd(
  kafka: Kafka,
  admin: Admin,
  groupId: string,
  topics: string[],
): Promise<void> {
  const offsets = await Promise.all(
    topics.map(async (topic) => ({ topic, partitions: await logEnds(admin, topic) })),
  );
  await setGroupOffsets(kafka, groupId, offsets);
}

/** The topic's log end per partition, as offsets to commit: a group set there reads only what comes next. */
export async function logEnds(admin: Admin, topic: string): Promise<GroupOffsets['partitions']> {
  return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
}

/** Offsets of one topic's partitions, to commit for a group. */
export interface GroupOffsets {
  topic: string;
  partitions: { partition: number; offset: string }[];
}

/** How long a fetch of a member whose partitions are all paused waits (kafkajs' default: 5 s). */
const PAUSED_FETCH_WAIT_MS = 50;

/**
 * Commits `offsets` for a group that has no members, every topic in one join of the group, as
 * kafkajs' admin.setOffsets does for one: a member that pauses every partition, seeks (which
 * commits) and leaves after its first fetch. admin.setOffsets joins once a topic and its fetch
 * waits the default 5 s: 5 s a topic.
 */
export async function setGroupOffsets(
  kafka: Kafka,
  groupId: string,
  offsets: readonly GroupOffsets[],
): Promise<void> {
  if (offsets.length === 0) return;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: PAUSED_FETCH_WAIT_MS });
  await consumer.connect();
  try {
    const { state } = await consumer.describeGroup();
    if (state !== 'Empty' && state !== 'Dead')
      throw new KooError(
        'CONFIG_INVALID',
        `cannot set the offsets of group ${groupId}: it has members (state ${state}); stop them first`,
      );
    await consumer.subscribe({ topics: offsets.map((o) => o.topic), fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.FETCH, () => resolve());
      consumer.run({ eachBatchAutoResolve: false, eachBatch: async () => {} }).catch(reject);
      consumer.pause(offsets.map(({ topic }) => ({ topic })));
      for (const { topic, partitions } of offsets)
        for (const { partition, offset } of partitions) consumer.seek({ topic, partition, offset });
    });
  } finally {
    await consumer.disconnect();
  }
}
