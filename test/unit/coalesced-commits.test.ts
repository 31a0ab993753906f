import { describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logging/logger.ts';
import { CoalescedCommits, type PartitionOffset } from '../../shared/runtime/chunk-commit.ts';

/** An OffsetCommit stand-in whose requests finish when the test says so. */
function fakeSend() {
  const requests: { offsets: PartitionOffset[]; finish: (error?: Error) => void }[] = [];
  const send = (offsets: PartitionOffset[]) =>
    new Promise<void>((resolve, reject) =>
      requests.push({ offsets, finish: (error) => (error ? reject(error) : resolve()) }),
    );
  return { requests, send };
}

const at = (partition: number, offset: number): PartitionOffset => ({
  topic: 'koo.reactions',
  partition,
  offset: String(offset),
});
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('coalesced offset commits', () => {
  it('sends the first commit at once and those asked for while it is in flight together in the next request', async () => {
    const { requests, send } = fakeSend();
    const commits = new CoalescedCommits(send, createLogger('test', 'silent'));
    const first = commits.commit(at(0, 10));
    const others = [commits.commit(at(1, 5)), commits.commit(at(2, 7)), commits.commit(at(1, 6))];
    expect(requests.map((r) => r.offsets)).toEqual([[at(0, 10)]]);

    requests[0]!.finish();
    expect(await first).toBe(true);
    await settled();
    // Partition 1 asked twice: the newer offset is sent, and both callers hear of it.
    expect(requests.map((r) => r.offsets)).toEqual([[at(0, 10)], [at(1, 6), at(2, 7)]]);
    requests[1]!.finish();
    expect(await Promise.all(others)).toEqual([true, true, true]);
  });

  it('fails every commit of a failed request, and sends what came after it', async () => {
    const { requests, send } = fakeSend();
    const commits = new CoalescedCommits(send, createLogger('test', 'silent'));
    const lost = [commits.commit(at(0, 10))];
    const next = commits.commit(at(3, 1));
    requests[0]!.finish(new Error('REBALANCE_IN_PROGRESS'));
    expect(await Promise.all(lost)).toEqual([false]);
    await settled();
    expect(requests[1]!.offsets).toEqual([at(3, 1)]);
    requests[1]!.finish();
    expect(await next).toBe(true);
  });
});
