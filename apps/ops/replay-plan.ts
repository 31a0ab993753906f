import { partitionKey } from '../../shared/kafka/records.ts';
import { parseInstant } from './instant.ts';

/** Where a replay moves a group: the first offset at or after a time, the log start or end, or an offset. */
export type ReplayTarget =
  | { kind: 'time'; at: number }
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: bigint };

/** A partition of one of the group's topics: its log bounds and the group's committed offset (null: none). */
export interface PartitionPosition {
  topic: string;
  partition: number;
  low: bigint;
  high: bigint;
  committed: bigint | null;
}

export interface ReplayStep {
  topic: string;
  partition: number;
  before: bigint | null;
  after: bigint;
  high: bigint;
}

export interface GroupMembership {
  groupId: string;
  state: string;
  members: number;
}

export function replayTargetOf(options: { toTime?: string; toOffset?: string }): ReplayTarget {
  if ((options.toTime === undefined) === (options.toOffset === undefined))
    throw new Error('give exactly one of --to-time and --to-offset');
  if (options.toTime !== undefined) return { kind: 'time', at: parseInstant(options.toTime, '--to-time') };
  const value = options.toOffset!.trim();
  if (value === 'earliest' || value === 'latest') return { kind: value };
  if (!/^\d+$/.test(value))
    throw new Error(`--to-offset must be earliest, latest or an offset (a whole number), not ${value}`);
  return { kind: 'offset', offset: BigInt(value) };
}

export function describeTarget(target: ReplayTarget): string {
  switch (target.kind) {
    case 'time':
      return `the first offset at or after ${new Date(target.at).toISOString()}`;
    case 'offset':
      return `offset ${target.offset}`;
    default:
      return `the ${target.kind} offset`;
  }
}

/** The topics a replay touches: the group's, or the one asked for if the group reads it. */
export function replayTopics(groupTopics: readonly string[], topic?: string): string[] {
  if (topic === undefined) return [...groupTopics];
  if (!groupTopics.includes(topic))
    throw new Error(`the group does not read ${topic} (it reads ${groupTopics.join(', ')})`);
  return [topic];
}

/** The partitions asked for (all without --partition); an unknown partition is an error, not a silent no-op. */
export function selectPartitions<P extends { topic: string; partition: number }>(
  positions: readonly P[],
  partition?: number,
): P[] {
  if (partition === undefined) return [...positions];
  const selected = positions.filter((p) => p.partition === partition);
  if (selected.length === 0) throw new Error(`no partition ${partition} in the selected topics`);
  return selected;
}

/**
 * Why the group's offsets cannot be moved now, or undefined if they can. The broker rejects
 * offsets committed for a group with members, and a running member would overwrite them with its
 * own commits anyway: the worker's replicas must be stopped first.
 */
export function replayRefusal(group: GroupMembership): string | undefined {
  if (group.members === 0 && (group.state === 'Empty' || group.state === 'Dead')) return undefined;
  return (
    `group ${group.groupId} is ${group.state} with ${group.members} member(s): stop every replica ` +
    `of the worker (scale it to 0) and run the command again`
  );
}

/**
 * The offset each partition moves to. For a time, `atTime` holds the broker's answer per partition
 * (the log end where nothing is that recent). An explicit offset outside a partition's log is
 * refused: the consumer would otherwise fall back to its reset policy, which is not what was asked.
 */
export function planReplay(
  positions: readonly PartitionPosition[],
  target: ReplayTarget,
  atTime: ReadonlyMap<string, bigint> = new Map(),
): ReplayStep[] {
  const outside = positions.filter(
    (p) => target.kind === 'offset' && (target.offset < p.low || target.offset > p.high),
  );
  if (outside.length > 0) {
    const shown = outside.slice(0, 3).map((p) => `${p.topic}/${p.partition} [${p.low}, ${p.high}]`);
    const more = outside.length > shown.length ? ` and ${outside.length - shown.length} more` : '';
    throw new Error(
      `offset ${(target as { offset: bigint }).offset} is outside the log of ${shown.join(', ')}${more}` +
        ' (pick one partition with --topic and --partition)',
    );
  }
  return positions.map((p) => {
    const after = (() => {
      switch (target.kind) {
        case 'earliest':
          return p.low;
        case 'latest':
          return p.high;
        case 'offset':
          return target.offset;
        case 'time': {
          const offset = atTime.get(partitionKey(p.topic, p.partition));
          if (offset === undefined) throw new Error(`no offset for the time in ${p.topic}/${p.partition}`);
          // Retention may have removed the records since the broker answered.
          return offset < p.low ? p.low : offset > p.high ? p.high : offset;
        }
      }
    })();
    return { topic: p.topic, partition: p.partition, before: p.committed, after, high: p.high };
  });
}

/** The plan as table rows: `change` < 0 rewinds (records are processed again), > 0 skips. */
export function replayRows(steps: readonly ReplayStep[]) {
  return steps.map((s) => ({
    topic: s.topic,
    partition: s.partition,
    before: s.before ?? 'none',
    after: s.after,
    change: s.before === null ? '' : `${s.after >= s.before ? '+' : ''}${s.after - s.before}`,
    'to process': s.high - s.after,
  }));
}
