import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TableFirstGate, type TopicPartition } from '../../shared/runtime/table-first-gate.ts';

const users = (partition: number) => ({ topic: 'users', partition });
const koos = (partition: number) => ({ topic: 'koos', partition });

/** A gate over the table topic `users`, and the partitions it has paused (kafkajs's paused set). */
function gate(maxWaitMs = 5_000) {
  const paused = new Set<string>();
  const key = (tp: TopicPartition) => `${tp.topic}:${tp.partition}`;
  const g = new TableFirstGate(new Set(['users']), maxWaitMs, {
    pause: (tp) => paused.add(key(tp)),
    resume: (tp) => paused.delete(key(tp)),
  });
  return { g, paused };
}

describe('tables first', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('holds a stream partition while a table partition is behind, and resumes it once every one caught up', () => {
    const { g, paused } = gate();
    g.reset([
      { ...users(0), next: 10n, end: 20n },
      { ...users(1), next: 5n, end: 5n },
    ]);
    expect(g.holds(koos(3))).toBe(true);
    expect(g.holds(users(0))).toBe(false); // a table partition never waits
    expect([...paused]).toEqual(['koos:3']);
    g.processed(users(0), 15n);
    expect([...paused]).toEqual(['koos:3']);
    g.fetched(users(1), 8n); // more arrived meanwhile
    g.processed(users(0), 20n);
    expect([...paused]).toEqual(['koos:3']);
    g.processed(users(1), 8n);
    expect([...paused]).toEqual([]);
    expect(g.holds(koos(3))).toBe(false);
  });

  it('lets nothing wait when the tables are caught up, or with a wait of 0', () => {
    const { g } = gate();
    g.reset([{ ...users(0), next: 7n, end: 7n }]);
    expect(g.holds(koos(0))).toBe(false);
    const off = gate(0).g;
    off.reset([{ ...users(0), next: 0n, end: 7n }]);
    expect(off.holds(koos(0))).toBe(false);
  });

  it('holds a partition at most maxWaitMs: a table that makes no progress holds it up once, until the tables catch up again', () => {
    const { g, paused } = gate(1_000);
    g.reset([{ ...users(0), next: 0n, end: 7n }]);
    expect(g.holds(koos(1))).toBe(true);
    vi.advanceTimersByTime(999);
    expect(paused.has('koos:1')).toBe(true);
    vi.advanceTimersByTime(1);
    expect(paused.has('koos:1')).toBe(false);
    expect(g.holds(koos(1))).toBe(false); // waited out
    g.processed(users(0), 7n);
    g.fetched(users(0), 9n);
    expect(g.holds(koos(1))).toBe(true); // caught up since: it may wait again
  });

  it('resumes what it paused when the member joins again, and forgets the old assignment', () => {
    const { g, paused } = gate();
    g.reset([{ ...users(0), next: 0n, end: 7n }]);
    g.holds(koos(1));
    g.reset([{ ...users(2), next: 3n, end: 3n }]);
    expect([...paused]).toEqual([]);
    expect(g.holds(koos(1))).toBe(false);
  });
});
