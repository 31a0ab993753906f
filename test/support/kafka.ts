import type { Admin } from 'kafkajs';
import { createKafka } from '../../shared/kafka/kafka-client.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { sleep } from '../../shared/runtime/backoff.ts';
import { stackEnv } from './stack-env.ts';

export function testKafka() {
  return createKafka(
    { brokers: stackEnv.kafkaBrokers, clientId: 'koo-tests' },
    createLogger('test', 'error'),
  );
}

export { groupCaughtUp, moveGroupToEnd as pinGroupAtEnd } from '../../shared/kafka/consumer-lag.ts';

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
