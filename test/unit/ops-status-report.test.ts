import { describe, expect, it } from 'vitest';
import {
  dlqDepth,
  formatStatus,
  groupRows,
  lagRows,
  statusJson,
  type GroupStatus,
  type StatusReport,
} from '../../apps/ops/status-report.ts';

const lagging: GroupStatus = {
  worker: 'content',
  groupId: 'koo-content',
  state: 'Stable',
  members: 2,
  partitions: [
    { topic: 'koo.public.koos', partition: 0, committed: 10n, end: 15n, lag: 5n },
    { topic: 'koo.public.koos', partition: 1, committed: 7n, end: 7n, lag: 0n },
    { topic: 'koo.public.users', partition: 0, committed: 0n, end: 2n, lag: 2n },
  ],
};
const idle: GroupStatus = { worker: 'feed', groupId: 'koo-feed', state: 'Dead', members: 0, partitions: [] };

const report: StatusReport = {
  at: '2026-11-27T10:00:00.000Z',
  groups: [lagging, idle],
  dlq: { topic: 'koo.dlq', depth: 3n },
  notifications: { queue: 'notifications', error: 'no answer from Redis in 5000 ms' },
  replicationSlot: { slot: 'koo_debezium', active: true, retainedWalBytes: 3n * 1024n * 1024n },
};

describe('status report', () => {
  it('sums lag per group', () => {
    expect(groupRows(report.groups)).toEqual([
      { worker: 'content', group: 'koo-content', state: 'Stable', members: 2, lag: 7n },
      { worker: 'feed', group: 'koo-feed', state: 'Dead', members: 0, lag: 0n },
    ]);
  });

  it('lists the partitions that lag, or all of them', () => {
    expect(lagRows(report.groups).map((r) => `${r.topic}/${r.partition}:${r.lag}`)).toEqual([
      'koo.public.koos/0:5',
      'koo.public.users/0:2',
    ]);
    expect(lagRows(report.groups, { all: true })).toHaveLength(3);
    expect(lagRows(report.groups)[0]).toEqual({
      group: 'koo-content',
      topic: 'koo.public.koos',
      partition: 0,
      committed: 10n,
      end: 15n,
      lag: 5n,
    });
  });

  it('counts DLQ depth as records retained (end − start) over partitions', () => {
    expect(
      dlqDepth([
        { low: '0', high: '4' },
        { low: '10', high: '12' },
        { low: 3n, high: 3n },
      ]),
    ).toBe(6n);
  });

  it('is one JSON object with numbers', () => {
    const json = statusJson(report);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(json.groups[0]).toMatchObject({
      lag: 7,
      partitions: [{ committed: 10, end: 15, lag: 5 }, {}, {}],
    });
    expect(json.dlq).toEqual({ topic: 'koo.dlq', depth: 3 });
    expect(json.replicationSlot).toEqual({
      slot: 'koo_debezium',
      active: true,
      retainedWalBytes: 3 * 1024 * 1024,
    });
  });

  it('prints every section, saying when Redis did not answer', () => {
    const text = formatStatus(report);
    expect(text).toContain('partitions that lag (--all for every partition)');
    expect(text).toContain('dlq koo.dlq: 3 record(s)');
    expect(text).toContain('notification queue notifications: unavailable (no answer from Redis in 5000 ms)');
    expect(text).toContain('replication slot koo_debezium: active, 3.0 MiB of WAL retained');
    expect(
      formatStatus({ ...report, replicationSlot: { slot: 'koo_debezium', error: 'connection refused' } }),
    ).toContain('replication slot koo_debezium: unavailable (connection refused)');
    const healthy = formatStatus(
      { ...report, groups: [idle], notifications: { queue: 'n', counts: { waiting: 1, failed: 2 } } },
      { all: true },
    );
    expect(healthy).toContain('lag per partition\n(none)');
    expect(healthy).toContain('notification queue n: waiting 1, failed 2');
  });
});
