import { describe, expect, it } from 'vitest';
import { InFlightBatcher } from '../../shared/runtime/in-flight-batcher.ts';

/** A call whose requests finish when the test says so. */
function heldCalls<T>() {
  const calls: { items: T[]; finish: (error?: Error) => void }[] = [];
  const send = (items: T[]) =>
    new Promise<void>((resolve, reject) =>
      calls.push({ items, finish: (error) => (error ? reject(error) : resolve()) }),
    );
  return { calls, send };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('requests sharing one in-flight call', () => {
  it('sends a lone request at once, and those made while a call is in flight together in the next, maxBatch at most', async () => {
    const { calls, send } = heldCalls<number>();
    const batcher = new InFlightBatcher(send, { maxBatch: 3 });
    const added = [1, 2, 3, 4, 5].map((n) => batcher.add(n));
    expect(calls.map((c) => c.items)).toEqual([[1]]);
    for (let i = 0; i < 3; i++) {
      calls[i]!.finish();
      await turn();
    }
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3, 4], [5]]);
    await Promise.all(added);
  });

  it('keeps one request per key waiting: the later replaces the earlier, and both settle with its call', async () => {
    const { calls, send } = heldCalls<{ partition: number; offset: number }>();
    const batcher = new InFlightBatcher(send, { keyOf: (c) => c.partition });
    const first = batcher.add({ partition: 0, offset: 10 });
    const waiting = [
      batcher.add({ partition: 1, offset: 5 }),
      batcher.add({ partition: 2, offset: 7 }),
      batcher.add({ partition: 1, offset: 6 }),
    ];
    calls[0]!.finish();
    await first;
    await turn();
    expect(calls[1]!.items).toEqual([
      { partition: 2, offset: 7 },
      { partition: 1, offset: 6 },
    ]);
    calls[1]!.finish();
    await Promise.all(waiting);
  });

  it('fails the requests of a failed call, and still sends the ones after it', async () => {
    const { calls, send } = heldCalls<string>();
    const batcher = new InFlightBatcher(send);
    const lost = batcher.add('a');
    const next = batcher.add('b');
    calls[0]!.finish(new Error('REBALANCE_IN_PROGRESS'));
    await expect(lost).rejects.toThrow('REBALANCE_IN_PROGRESS');
    await turn();
    expect(calls[1]!.items).toEqual(['b']);
    calls[1]!.finish();
    await expect(next).resolves.toBeUndefined();
  });
});
