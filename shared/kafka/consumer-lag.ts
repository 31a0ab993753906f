import type { Admin } from 'kafkajs';

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

/** Whether the group has committed the end of the log on every partition of the topics. */
export async function groupCaughtUp(admin: Admin, groupId: string, topics: string[]): Promise<boolean> {
  return (await consumerGroupLag(admin, groupId, topics)).every((p) => p.lag === 0n);
}

/**
 * Commits the current end of the topics for a group that is not running, so it starts with what
 * is produced from now on (a new deployment that must not replay history; tests; benchmarks).
 */
export async function moveGroupToEnd(admin: Admin, groupId: string, topics: string[]): Promise<void> {
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({
      groupId,
      topic,
      partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
    });
  }
}
