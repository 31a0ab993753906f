import type { CatalogEntry } from '../../workers/catalog.ts';
import { compareOffsets } from '../../workers/lake/layout.ts';
import { partitionKey } from '../../shared/kafka/records.ts';
import type { PartitionPosition } from './replay-plan.ts';

// Workers a backfill must not run, and why (the operator reads this).
const refusals: Record<string, string> = {
  notify:
    'notify is not a view, it sends notifications: replaying events older than NOTIFY_KEEP_DAYS ' +
    'would notify users again',
  'notify-sender': 'notify-sender reads the BullMQ queue, not Kafka: there is nothing to rebuild',
  lake:
    'the lake commits only segments it has closed, so a backfill would never see its last offsets ' +
    'committed; a replay from offset 0 rewrites the same objects, so to rebuild run a lake worker ' +
    'with a new LAKE_GROUP_ID and LAKE_PREFIX instead',
};

/** Why `worker` cannot be backfilled, or undefined if it can. */
export function backfillRefusal(entry: CatalogEntry): string | undefined {
  return refusals[entry.name] ?? (entry.group ? undefined : `${entry.name} has no consumer group`);
}

/** `<live group>-backfill-<UTC time>`: unique per run, and says what it is in `kafka-consumer-groups --list`. */
export function backfillGroupId(liveGroup: string, now: Date): string {
  return `${liveGroup}-backfill-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}`;
}

/** DynamoDB table names allow letters, digits, `_`, `-` and `.`; the prefix is part of them. */
export function tablePrefixProblem(prefix: string): string | undefined {
  return /^[A-Za-z0-9_.-]+$/.test(prefix)
    ? undefined
    : `--table-prefix may hold only letters, digits, '_', '-' and '.', not ${JSON.stringify(prefix)}`;
}

/** The environment the in-process worker reads: the caller's, under the backfill group, from offset 0. */
export function backfillEnv(
  environment: NodeJS.ProcessEnv,
  options: { groupVariable: string; groupId: string; tablePrefix?: string },
): NodeJS.ProcessEnv {
  return {
    // The worker's own log lines would bury the progress bar; LOG_LEVEL set by the caller wins.
    LOG_LEVEL: 'warn',
    ...environment,
    [options.groupVariable]: options.groupId,
    FROM_BEGINNING: 'true',
    // A free port: a live replica on this host may hold the configured one.
    HTTP_PORT: '0',
    ...(options.tablePrefix === undefined ? {} : { TABLE_PREFIX: options.tablePrefix }),
  };
}

/** What a backfill reads of one partition: from where the group starts to the log end seen at start. */
export interface BackfillRange {
  topic: string;
  partition: number;
  from: bigint;
  to: bigint;
}

/** A fresh group starts at the log start; a group given with --group resumes where it committed. */
export function backfillRanges(positions: readonly PartitionPosition[]): BackfillRange[] {
  return positions.map((p) => {
    const start = p.committed === null || p.committed < p.low ? p.low : p.committed;
    return { topic: p.topic, partition: p.partition, from: start, to: start > p.high ? start : p.high };
  });
}

/** Every partition committed up to the end it had at start (partitions with nothing to read count as done). */
export function backfillComplete(
  ranges: readonly BackfillRange[],
  committed: ReadonlyMap<string, bigint>,
): boolean {
  return ranges.every(
    (r) => r.from >= r.to || (committed.get(partitionKey(r.topic, r.partition)) ?? -1n) >= r.to,
  );
}

/**
 * Records done out of the ranges, from the last offset of each committed chunk. Counting the
 * furthest offset per partition (not records seen) keeps a chunk redelivered after a rebalance
 * from counting twice, and records produced after the start from counting at all.
 */
export class BackfillProgress {
  readonly total: number;
  private readonly ranges = new Map<string, BackfillRange>();
  private readonly reached = new Map<string, bigint>();

  constructor(ranges: readonly BackfillRange[]) {
    for (const r of ranges) this.ranges.set(partitionKey(r.topic, r.partition), r);
    this.total = ranges.reduce((sum, r) => sum + Number(r.to - r.from), 0);
  }

  /** Told the last offset of a committed chunk; returns the records done so far. */
  committed(topic: string, partition: number, lastOffset: bigint): number {
    const key = partitionKey(topic, partition);
    const range = this.ranges.get(key);
    if (range) {
      const next = lastOffset + 1n > range.to ? range.to : lastOffset + 1n;
      if (next > (this.reached.get(key) ?? range.from)) this.reached.set(key, next);
    }
    return this.done;
  }

  get done(): number {
    let sum = 0n;
    for (const [key, at] of this.reached) sum += at - this.ranges.get(key)!.from;
    return Number(sum);
  }
}

/** A lake object as the replay plans it: its Kafka partition and the offsets of its first and last rows. */
export interface LakeObjectSpan {
  key: string;
  partition: number;
  firstOffset: bigint;
  lastOffset: bigint;
}

/**
 * In what order a rebuild reads a topic's lake objects: per Kafka partition, groups of objects
 * whose offset ranges overlap (the hour files of one segment, a compacted hour and the segments it
 * spans), in offset order. A group is read whole and its rows sorted by offset, so each partition
 * is replayed in the order Kafka gave it (the sinks' fences need that), holding one group at a time.
 */
export function lakeReplayGroups(objects: readonly LakeObjectSpan[]): Map<number, LakeObjectSpan[][]> {
  const out = new Map<number, LakeObjectSpan[][]>();
  const byPartition = Map.groupBy(objects, (o) => o.partition);
  for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
    const sorted = [...byPartition.get(partition)!].sort((a, b) =>
      compareOffsets(a.firstOffset, b.firstOffset),
    );
    const groups: LakeObjectSpan[][] = [];
    let end = -1n;
    for (const o of sorted) {
      if (groups.length > 0 && o.firstOffset <= end) groups[groups.length - 1]!.push(o);
      else groups.push([o]);
      if (o.lastOffset > end) end = o.lastOffset;
    }
    out.set(partition, groups);
  }
  return out;
}

/**
 * Where the Kafka part of a rebuild from the lake starts, per partition: after the lake's last
 * offset. A partition whose log now starts past that (or past 0, when the lake holds none of it)
 * lost records neither holds (`gaps`).
 */
export function afterLake(
  objects: readonly LakeObjectSpan[],
  logStart: ReadonlyMap<number, bigint>,
): { start: Map<number, bigint>; gaps: { partition: number; from: bigint; to: bigint }[] } {
  const lakeNext = new Map<number, bigint>();
  for (const o of objects) {
    if (o.lastOffset + 1n > (lakeNext.get(o.partition) ?? 0n)) lakeNext.set(o.partition, o.lastOffset + 1n);
  }
  const start = new Map<number, bigint>();
  const gaps: { partition: number; from: bigint; to: bigint }[] = [];
  for (const [partition, low] of [...logStart].sort(([a], [b]) => a - b)) {
    const next = lakeNext.get(partition) ?? 0n;
    if (next < low) gaps.push({ partition, from: next, to: low });
    if (lakeNext.has(partition)) start.set(partition, next);
  }
  return { start, gaps };
}
