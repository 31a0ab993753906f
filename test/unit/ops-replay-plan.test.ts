import { describe, expect, it } from 'vitest';
import { parseInstant } from '../../apps/ops/instant.ts';
import { partitionKey } from '../../shared/kafka/records.ts';
import {
  planReplay,
  replayRefusal,
  replayRows,
  replayTargetOf,
  replayTopics,
  selectPartitions,
  type PartitionPosition,
} from '../../apps/ops/replay-plan.ts';

const at = Date.UTC(2026, 10, 27, 9, 30);
const positions: PartitionPosition[] = [
  { topic: 't', partition: 0, low: 0n, high: 100n, committed: 80n },
  { topic: 't', partition: 1, low: 40n, high: 50n, committed: null },
];

describe('parseInstant', () => {
  it('reads ISO times with a zone, dates (midnight UTC) and epoch ms', () => {
    expect(parseInstant('2026-11-27T09:30:00Z', '--x')).toBe(at);
    expect(parseInstant('2026-11-27T15:00+05:30', '--x')).toBe(at);
    expect(parseInstant('2026-11-27T09:30:00.000Z', '--x')).toBe(at);
    expect(parseInstant('2026-11-27', '--x')).toBe(Date.UTC(2026, 10, 27));
    expect(parseInstant(String(at), '--x')).toBe(at);
  });

  it('refuses a time without a zone (it would depend on the machine) and anything else', () => {
    expect(() => parseInstant('2026-11-27T09:30:00', '--since')).toThrow(
      /--since must be an ISO time with a zone/,
    );
    expect(() => parseInstant('yesterday', '--since')).toThrow(/not yesterday/);
    expect(() => parseInstant('2026-13-45', '--since')).toThrow();
  });
});

describe('replayTargetOf', () => {
  it('takes a time or an offset, exactly one', () => {
    expect(replayTargetOf({ toTime: '2026-11-27T09:30:00Z' })).toEqual({ kind: 'time', at });
    expect(replayTargetOf({ toOffset: 'earliest' })).toEqual({ kind: 'earliest' });
    expect(replayTargetOf({ toOffset: 'latest' })).toEqual({ kind: 'latest' });
    expect(replayTargetOf({ toOffset: '42' })).toEqual({ kind: 'offset', offset: 42n });
    expect(() => replayTargetOf({})).toThrow(/exactly one/);
    expect(() => replayTargetOf({ toTime: '0', toOffset: '1' })).toThrow(/exactly one/);
    expect(() => replayTargetOf({ toOffset: '-3' })).toThrow(/earliest, latest or an offset/);
  });
});

describe('planReplay', () => {
  it('moves every partition to the log start or end', () => {
    expect(planReplay(positions, { kind: 'earliest' }).map((s) => s.after)).toEqual([0n, 40n]);
    expect(planReplay(positions, { kind: 'latest' }).map((s) => s.after)).toEqual([100n, 50n]);
  });

  it("takes the broker's offset for a time, kept within the log", () => {
    // Partition 1's answer predates its log start (retention removed records since).
    const atTime = new Map([
      [partitionKey('t', 0), 30n],
      [partitionKey('t', 1), 10n],
    ]);
    expect(planReplay(positions, { kind: 'time', at }, atTime)).toEqual([
      { topic: 't', partition: 0, before: 80n, after: 30n, high: 100n },
      { topic: 't', partition: 1, before: null, after: 40n, high: 50n },
    ]);
    expect(() => planReplay(positions, { kind: 'time', at }, new Map())).toThrow(
      /no offset for the time in t\/0/,
    );
  });

  it('refuses an explicit offset outside a log, naming the partitions', () => {
    expect(planReplay(positions.slice(0, 1), { kind: 'offset', offset: 7n })[0]!.after).toBe(7n);
    expect(() => planReplay(positions, { kind: 'offset', offset: 7n })).toThrow(
      'offset 7 is outside the log of t/1 [40, 50] (pick one partition with --topic and --partition)',
    );
    const many = Array.from({ length: 5 }, (_, partition) => ({ ...positions[1]!, partition }));
    expect(() => planReplay(many, { kind: 'offset', offset: 7n })).toThrow('t/2 [40, 50] and 2 more (pick');
  });

  it('shows the change per partition and what is left to process', () => {
    const steps = planReplay(positions, { kind: 'earliest' });
    expect(replayRows(steps)).toEqual([
      { topic: 't', partition: 0, before: 80n, after: 0n, change: '-80', 'to process': 100n },
      { topic: 't', partition: 1, before: 'none', after: 40n, change: '', 'to process': 10n },
    ]);
    expect(replayRows(planReplay(positions.slice(0, 1), { kind: 'latest' }))[0]!.change).toBe('+20');
  });
});

describe('replayRefusal', () => {
  it('allows only a group without members', () => {
    expect(replayRefusal({ groupId: 'g', state: 'Empty', members: 0 })).toBeUndefined();
    expect(replayRefusal({ groupId: 'g', state: 'Dead', members: 0 })).toBeUndefined();
    expect(replayRefusal({ groupId: 'g', state: 'Stable', members: 2 })).toMatch(
      /group g is Stable with 2 member\(s\): stop every replica/,
    );
    expect(replayRefusal({ groupId: 'g', state: 'PreparingRebalance', members: 0 })).toBeDefined();
  });
});

describe('the selection', () => {
  it('is the group topics, or one of them', () => {
    expect(replayTopics(['a', 'b'])).toEqual(['a', 'b']);
    expect(replayTopics(['a', 'b'], 'b')).toEqual(['b']);
    expect(() => replayTopics(['a', 'b'], 'c')).toThrow('the group does not read c (it reads a, b)');
  });

  it('is every partition, or the one asked for if it exists', () => {
    expect(selectPartitions(positions)).toHaveLength(2);
    expect(selectPartitions(positions, 1)).toEqual([positions[1]]);
    expect(() => selectPartitions(positions, 9)).toThrow('no partition 9');
  });
});
