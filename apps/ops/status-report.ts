import type { PartitionLag } from '../../shared/kafka/consumer-lag.ts';
import { formatTable } from '../cli/print-table.ts';

/** A worker's consumer group: membership (describeGroups) and lag per partition. */
export interface GroupStatus {
  worker: string;
  groupId: string;
  /** Stable, Empty, PreparingRebalance, CompletingRebalance, Dead (never created or expired), Unknown. */
  state: string;
  members: number;
  partitions: PartitionLag[];
}

export interface DlqStatus {
  topic: string;
  /** Records retained in the topic: the sum over partitions of log end − log start. */
  depth: bigint;
}

export interface QueueStatus {
  queue: string;
  /** Jobs per state; absent when Redis did not answer (`error` says why). */
  counts?: Record<string, number>;
  error?: string;
}

/**
 * Debezium's replication slot on the source database: WAL the primary keeps for it. Growing
 * while the captured tables are quiet means the heartbeat does not run; growing with an inactive
 * slot means the connector is down (the primary's disk fills).
 */
export interface SlotStatus {
  slot: string;
  /** Absent when the source database did not answer or has no such slot (`error` says why). */
  active?: boolean;
  retainedWalBytes?: bigint;
  error?: string;
}

export interface StatusReport {
  at: string;
  groups: GroupStatus[];
  dlq: DlqStatus;
  notifications: QueueStatus;
  replicationSlot: SlotStatus;
}

export const totalLag = (group: GroupStatus): bigint => group.partitions.reduce((sum, p) => sum + p.lag, 0n);

export function dlqDepth(partitions: readonly { low: string | bigint; high: string | bigint }[]): bigint {
  return partitions.reduce((sum, p) => sum + (BigInt(p.high) - BigInt(p.low)), 0n);
}

export function groupRows(groups: readonly GroupStatus[]) {
  return groups.map((g) => ({
    worker: g.worker,
    group: g.groupId,
    state: g.state,
    members: g.members,
    lag: totalLag(g),
  }));
}

/** Lag per group, topic and partition; only the partitions that lag unless `all`. */
export function lagRows(groups: readonly GroupStatus[], { all = false } = {}) {
  return groups.flatMap((g) =>
    g.partitions
      .filter((p) => all || p.lag > 0n)
      .map((p) => ({
        group: g.groupId,
        topic: p.topic,
        partition: p.partition,
        committed: p.committed,
        end: p.end,
        lag: p.lag,
      })),
  );
}

// Offsets and counts stay far below 2^53, so JSON readers get plain numbers.
const n = (v: bigint) => Number(v);

/** The report as one JSON-ready object (every partition, numbers instead of bigints). */
export function statusJson(report: StatusReport) {
  return {
    at: report.at,
    groups: report.groups.map((g) => ({
      worker: g.worker,
      groupId: g.groupId,
      state: g.state,
      members: g.members,
      lag: n(totalLag(g)),
      partitions: g.partitions.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        committed: n(p.committed),
        end: n(p.end),
        lag: n(p.lag),
      })),
    })),
    dlq: { topic: report.dlq.topic, depth: n(report.dlq.depth) },
    notifications: report.notifications,
    replicationSlot: {
      ...report.replicationSlot,
      ...(report.replicationSlot.retainedWalBytes === undefined
        ? {}
        : { retainedWalBytes: n(report.replicationSlot.retainedWalBytes) }),
    },
  };
}

/** The report for a terminal: groups, lagging partitions, DLQ depth, notification queue. */
export function formatStatus(report: StatusReport, { all = false } = {}): string {
  const lag = lagRows(report.groups, { all });
  const q = report.notifications;
  const queue = q.counts
    ? Object.entries(q.counts)
        .map(([state, count]) => `${state} ${count}`)
        .join(', ')
    : `unavailable (${q.error ?? 'no answer'})`;
  return [
    `consumer groups at ${report.at}`,
    formatTable(groupRows(report.groups)),
    '',
    all ? 'lag per partition' : 'partitions that lag (--all for every partition)',
    lag.length > 0 ? formatTable(lag) : '(none)',
    '',
    `dlq ${report.dlq.topic}: ${report.dlq.depth} record(s)`,
    `notification queue ${q.queue}: ${queue}`,
    `replication slot ${slotLine(report.replicationSlot)}`,
  ].join('\n');
}

function slotLine(s: SlotStatus): string {
  if (s.retainedWalBytes === undefined) return `${s.slot}: unavailable (${s.error ?? 'no answer'})`;
  const mib = Number(s.retainedWalBytes) / (1024 * 1024);
  return `${s.slot}: ${s.active ? 'active' : 'INACTIVE'}, ${mib.toFixed(1)} MiB of WAL retained`;
}
