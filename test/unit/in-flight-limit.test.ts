import { describe, expect, it } from 'vitest';
import { InFlightLimit } from '../../shared/dynamodb/in-flight-limit.ts';

const settled = () => new Promise((r) => setImmediate(r));

describe('in-flight limit (AIMD)', () => {
  it('lets up to max requests through, then makes the next wait for a slot', async () => {
    const limit = new InFlightLimit(2);
    await limit.acquire();
    await limit.acquire();
    let third = false;
    void limit.acquire().then(() => (third = true));
    await settled();
    expect(third).toBe(false);
    limit.release(true);
    await settled();
    expect(third).toBe(true);
  });

  it('failures halve the limit down to a single probe; successes double it back to max', async () => {
    const limit = new InFlightLimit(64);
    for (let i = 0; i < 10; i++) {
      await limit.acquire();
      limit.release(false);
    }
    expect(limit.limit).toBe(1);
    const answers = [];
    for (let i = 0; i < 6; i++) {
      await limit.acquire();
      limit.release(true);
      answers.push(limit.limit);
    }
    expect(answers).toEqual([2, 4, 8, 16, 32, 64]);
  });

  it('while the sink fails, waiters go one at a time; a shutdown lets them all through', async () => {
    const limit = new InFlightLimit(8);
    await limit.acquire();
    limit.release(false);
    for (let i = 0; i < 4; i++) await limit.acquire();
    for (let i = 0; i < 4; i++) limit.release(false); // 2, 1, 1, 1
    expect(limit.limit).toBe(1);
    await limit.acquire(); // the probe
    const shutdown = new AbortController();
    let through = 0;
    const waiters = Array.from({ length: 5 }, () => limit.acquire(shutdown.signal).then(() => through++));
    await settled();
    expect(through).toBe(0);
    shutdown.abort();
    await Promise.all(waiters);
    expect(through).toBe(5);
  });

  it('a waiter whose work is stopped leaves the queue, so the next slot goes to the waiter behind it', async () => {
    const limit = new InFlightLimit(1);
    await limit.acquire(); // in flight
    const rebalance = new AbortController();
    const stopped = limit.acquire(rebalance.signal);
    let behind = false;
    void limit.acquire().then(() => (behind = true));
    await settled();
    rebalance.abort();
    await stopped;
    limit.abandon(); // the stopped request is not sent
    limit.release(true); // the one in flight is answered
    await settled();
    expect(behind).toBe(true);
    expect(limit.limit).toBe(1);
  });
});
