import type { Admin } from 'kafkajs';
import { createKafka } from '../../shared/kafka/kafka-client.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { stackEnv } from './stack-env.ts';

export function testKafka() {
  return createKafka({ brokers: stackEnv.kafkaBrokers, clientId: 'koo-tests' }, createLogger('test', 'error'));
}

/** Whether a consumer group has committed, on every partition of the topics, the current end of the log. */
export async function groupCaughtUp(admin: Admin, groupId: string, topics: string[]): Promise<boolean> {
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const { topic, partitions } of committed) {
    const ends = await admin.fetchTopicOffsets(topic);
    for (const end of ends) {
      const c = partitions.find((p) => p.partition === end.partition);
      const at = c && c.offset !== '-1' ? BigInt(c.offset) : 0n;
      if (at < BigInt(end.high)) return false;
    }
  }
  return true;
}

/**
 * Commits the current end of the topics for a new group, so a worker started under it sees only
 * what the test produces from now on (not the history other tests left in the topics).
 */
export async function pinGroupAtEnd(admin: Admin, groupId: string, topics: string[]): Promise<void> {
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({ groupId, topic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
  }
}
