import { describe, expect, it } from 'vitest';
import {
  afterLake,
  BackfillProgress,
  backfillComplete,
  backfillEnv,
  backfillGroupId,
  backfillRanges,
  backfillRefusal,
  lakeReplayGroups,
  tablePrefixProblem,
} from '../../apps/ops/backfill-plan.ts';
import { partitionKey } from '../../shared/kafka/records.ts';
import { catalogEntry } from '../../workers/catalog.ts';

describe('backfill plan', () => {
  it('rebuilds views only', () => {
    expect(backfillRefusal(catalogEntry('content'))).toBeUndefined();
    expect(backfillRefusal(catalogEntry('feed'))).toBeUndefined();
    expect(backfillRefusal(catalogEntry('notify'))).toMatch(/notify users again/);
    expect(backfillRefusal(catalogEntry('notify-sender'))).toMatch(/BullMQ/);
    expect(backfillRefusal(catalogEntry('lake'))).toMatch(/never see its last offsets committed/);
  });

  it('names its group after the live one and the time', () => {
    expect(backfillGroupId('koo-content', new Date(Date.UTC(2026, 10, 27, 9, 5, 7, 123)))).toBe(
      'koo-content-backfill-20261127T090507Z',
    );
  });

  it('accepts only table-name characters in a prefix', () => {
    expect(tablePrefixProblem('blue_2026-11.')).toBeUndefined();
    expect(tablePrefixProblem('blue/')).toMatch(/--table-prefix may hold only/);
    expect(tablePrefixProblem('')).toBeDefined();
  });

  it('runs the worker under its group from offset 0, on a free port, quiet unless asked', () => {
    const env = backfillEnv(
      { CONTENT_GROUP_ID: 'koo-content', FROM_BEGINNING: 'false', HTTP_PORT: '9100', TABLE_PREFIX: 'live_' },
      { groupVariable: 'CONTENT_GROUP_ID', groupId: 'bf', tablePrefix: 'blue_' },
    );
    expect(env).toEqual({
      CONTENT_GROUP_ID: 'bf',
      FROM_BEGINNING: 'true',
      HTTP_PORT: '0',
      TABLE_PREFIX: 'blue_',
      LOG_LEVEL: 'warn',
    });
    const live = backfillEnv(
      { LOG_LEVEL: 'debug', TABLE_PREFIX: 'live_' },
      { groupVariable: 'G', groupId: 'bf' },
    );
    expect(live).toMatchObject({ LOG_LEVEL: 'debug', TABLE_PREFIX: 'live_', G: 'bf' });
  });

  const ranges = backfillRanges([
    { topic: 't', partition: 0, low: 0n, high: 10n, committed: null },
    { topic: 't', partition: 1, low: 5n, high: 8n, committed: 2n }, // retention passed its commit
    { topic: 't', partition: 2, low: 0n, high: 6n, committed: 4n }, // a resumed backfill
    { topic: 't', partition: 3, low: 3n, high: 3n, committed: null }, // nothing to read
  ]);

  it('reads each partition from where the group starts to the end seen at start', () => {
    expect(ranges.map((r) => [r.from, r.to])).toEqual([
      [0n, 10n],
      [5n, 8n],
      [4n, 6n],
      [3n, 3n],
    ]);
  });

  it('is complete once every partition with records committed its end', () => {
    const committed = new Map([
      [partitionKey('t', 0), 10n],
      [partitionKey('t', 1), 8n],
    ]);
    expect(backfillComplete(ranges, committed)).toBe(false);
    committed.set(partitionKey('t', 2), 7n); // records produced since count too
    expect(backfillComplete(ranges, committed)).toBe(true);
  });

  it('counts progress by the furthest offset committed, within the ranges', () => {
    const progress = new BackfillProgress(ranges);
    expect(progress.total).toBe(15);
    expect(progress.committed('t', 0, 3n)).toBe(4);
    expect(progress.committed('t', 0, 1n)).toBe(4); // a chunk redelivered after a rebalance
    expect(progress.committed('t', 2, 40n)).toBe(6); // past the end seen at start
    expect(progress.committed('other', 0, 99n)).toBe(6);
    progress.committed('t', 0, 9n);
    progress.committed('t', 1, 7n);
    expect(progress.done).toBe(progress.total);
  });

  it('replays the lake per partition in offset order, objects whose offsets overlap read together', () => {
    const span = (key: string, partition: number, first: bigint, last: bigint) => ({
      key,
      partition,
      firstOffset: first,
      lastOffset: last,
    });
    // Partition 0: a segment of offsets 0-9 in two hour files, a compacted hour (10-29) spanning
    // the segments 10-19 and 20-29 whose other hour file (20-25) it overlaps, then 30-39 alone.
    const groups = lakeReplayGroups([
      span('p0-h2-30', 0, 30n, 39n),
      span('p0-h1-0', 0, 0n, 9n),
      span('p0-h2-10', 0, 10n, 29n),
      span('p0-h3-20', 0, 20n, 25n),
      span('p0-h2-0', 0, 0n, 8n),
      span('p1-h1-0', 1, 0n, 4n),
    ]);
    expect([...groups.keys()]).toEqual([0, 1]);
    expect(groups.get(0)!.map((g) => g.map((o) => o.key))).toEqual([
      ['p0-h1-0', 'p0-h2-0'],
      ['p0-h2-10', 'p0-h3-20'],
      ['p0-h2-30'],
    ]);
    expect(groups.get(1)!.map((g) => g.map((o) => o.key))).toEqual([['p1-h1-0']]);
  });

  it('goes on from Kafka after the lake, and finds records neither holds', () => {
    const { start, gaps } = afterLake(
      [
        { key: 'a', partition: 0, firstOffset: 0n, lastOffset: 59n },
        { key: 'b', partition: 0, firstOffset: 40n, lastOffset: 99n },
        { key: 'c', partition: 1, firstOffset: 0n, lastOffset: 49n },
      ],
      new Map([
        [2, 7n],
        [1, 60n],
        [0, 80n],
        [3, 0n],
      ]),
    );
    expect(start).toEqual(
      new Map([
        [0, 100n],
        [1, 50n],
      ]),
    );
    // After each partition's last offset in the lake. Partition 1 lost 50-59; partition 2 lost
    // 0-6 and the lake holds none of it; 3 lost nothing.
    expect(gaps).toEqual([
      { partition: 1, from: 50n, to: 60n },
      { partition: 2, from: 0n, to: 7n },
    ]);
  });
});
