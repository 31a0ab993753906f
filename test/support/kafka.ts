import { randomUUID } from 'node:crypto';
import {
  committedByPartition,
  moveGroupToEnd,
  setGroupOffsets,
  type GroupOffsets,
} from '../../shared/kafka/consumer-lag.ts';
import type { Admin, Kafka } from 'kafkajs';
import { createKafka } from '../../shared/kafka/kafka-client.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { sleep } from '../../shared/runtime/backoff.ts';
import { stackEnv } from './stack-env.ts';
import { waitFor } from './wait-for.ts';

export function testKafka() {
  return createKafka(
    { brokers: stackEnv.kafkaBrokers, clientId: 'koo-tests' },
    createLogger('test', 'error'),
  );
}

export { groupCaughtUp } from '../../shared/kafka/consumer-lag.ts';

/** Commits the offsets of a group that is not running, all topics in one join (setGroupOffsets). */
export function setOffsets(groupId: string, offsets: GroupOffsets[]): Promise<void> {
  return setGroupOffsets(testKafka(), groupId, offsets);
}

/** Commits the topics' current end for a group that is not running: it reads only what comes next. */
export function pinGroupAtEnd(admin: Admin, groupId: string, topics: string[]): Promise<void> {
  return moveGroupToEnd(testKafka(), admin, groupId, topics);
}

/**
 * Waits until a group has committed each given partition of a topic up to its offset (the next
 * record it would read). The lake commits a segment's offsets only after its table holds the
 * segment, so one read of the table afterwards sees it: a poll of the offsets costs the stack far
 * less than a read of the table or a listing of the lake.
 */
export function waitCommitted(
  admin: Admin,
  groupId: string,
  topic: string,
  through: readonly { partition: number; offset: bigint | string }[],
  timeoutMs = 90_000,
): Promise<true> {
  return waitFor(
    `${groupId} to commit ${topic} up to ${through.map((t) => `${t.offset} in ${t.partition}`).join(', ')}`,
    async () => {
      const committed = await committedByPartition(admin, groupId, topic);
      return through.every(({ partition, offset }) => (committed.get(partition) ?? -1n) >= BigInt(offset));
    },
    { timeoutMs, intervalMs: 500 },
  );
}

export interface CommitWatch {
  worker: string;
  /** Polls (every `intervalMs`) in which the group's committed offsets had moved, per minute. */
  commitsPerMinute: number;
  /** The longest stretch without a commit seen (to the poll's resolution), and when it began. */
  maxGapMs: number;
  maxGapFrom: string;
}

/**
 * Polls consumer groups' committed offsets until the returned function is called: how often each
 * group committed and its longest stretch without a commit (a group that stopped moving shows here).
 */
export function watchCommits(
  admin: Admin,
  groups: readonly { worker: string; groupId: string; topics: string[] }[],
  intervalMs = 2_000,
): () => Promise<CommitWatch[]> {
  const started = Date.now();
  const seen = new Map(
    groups.map((g) => [
      g.worker,
      { offsets: '', movedAt: started, moves: 0, maxGapMs: 0, maxGapFrom: started },
    ]),
  );
  let watching = true;
  const polling = (async () => {
    while (watching) {
      for (const g of groups) {
        const offsets = await admin
          .fetchOffsets({ groupId: g.groupId, topics: g.topics })
          .catch(() => undefined);
        if (!offsets) continue; // the broker is busy with the group: the next poll sees it
        const now = Date.now();
        const s = seen.get(g.worker)!;
        const current = JSON.stringify(offsets.map((t) => t.partitions.map((p) => p.offset)));
        if (s.offsets !== '' && current !== s.offsets) {
          s.moves++;
          if (now - s.movedAt > s.maxGapMs) [s.maxGapMs, s.maxGapFrom] = [now - s.movedAt, s.movedAt];
          s.movedAt = now;
        }
        s.offsets = current;
      }
      await sleep(intervalMs);
    }
  })();
  return async () => {
    watching = false;
    await polling;
    const now = Date.now();
    const minutes = (now - started) / 60_000;
    return groups.map((g) => {
      const s = seen.get(g.worker)!;
      if (now - s.movedAt > s.maxGapMs) [s.maxGapMs, s.maxGapFrom] = [now - s.movedAt, s.movedAt];
      return {
        worker: g.worker,
        commitsPerMinute: Math.round((s.moves / minutes) * 10) / 10,
        maxGapMs: s.maxGapMs,
        maxGapFrom: new Date(s.maxGapFrom).toISOString(),
      };
    });
  };
}

/**
 * Every record of `topic` from each partition's first offset to its end as it is now (records
 * the log cleaner removed are not there), read by a consumer of a group of its own, then deleted.
 * The end is each partition's last record, which the cleaner never removes (it is in the active
 * segment), so the read knows when it is done without waiting for silence.
 */
export async function readTopicToEnd(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  timeoutMs = 60_000,
): Promise<{ partition: number; offset: string; key: string | null; value: Buffer | null }[]> {
  const ends = new Map(
    (await admin.fetchTopicOffsets(topic))
      .filter((p) => BigInt(p.high) > BigInt(p.low))
      .map((p) => [p.partition, BigInt(p.high) - 1n]),
  );
  const out: { partition: number; offset: string; key: string | null; value: Buffer | null }[] = [];
  const groupId = `koo-test-read-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  if (ends.size === 0) done();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const last = ends.get(batch.partition);
        if (last === undefined) return;
        for (const m of batch.messages) {
          if (BigInt(m.offset) > last) break;
          out.push({
            partition: batch.partition,
            offset: m.offset,
            key: m.key?.toString() ?? null,
            value: m.value,
          });
        }
        if (BigInt(batch.lastOffset()) >= last) ends.delete(batch.partition);
        if (ends.size === 0) done();
      },
    });
    await Promise.race([
      finished,
      sleep(timeoutMs).then(() => {
        throw new Error(
          `reading ${topic} to its end took over ${timeoutMs} ms; partitions left: ${[...ends.keys()].join(', ')}`,
        );
      }),
    ]);
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return out;
}
