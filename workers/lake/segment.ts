import type { LakeRow } from './columns.ts';

/** When an open segment is cut: all three are evaluated on the records themselves, never on the clock. */
export interface RotationLimits {
  /** Segments never span a multiple of this many offsets (and so never hold more rows). */
  rows: number;
  /** Key plus value bytes of the Kafka records in a segment. */
  bytes: number;
  /** Span of Kafka record timestamps (stored in the log, so a replay sees the same ones). */
  ageMs: number;
}

/** A decoded record on its way into the lake. */
export interface LakeRecord {
  offset: bigint;
  /** Event time in epoch ms: picks the Hive partition (dt, hr). */
  eventTimeMs: number;
  /** The Kafka record's timestamp in epoch ms. */
  kafkaTimestampMs: number;
  /** Key plus value bytes in Kafka. */
  bytes: number;
  row: LakeRow;
}

/** One future object: the rows of a segment that fall in one event hour. */
export interface HourFile {
  dt: string;
  hr: string;
  firstOffset: bigint;
  lastOffset: bigint;
  rows: LakeRow[];
}

/** The Hive partition of an event time, in UTC. */
export function hourOf(eventTimeMs: number): { dt: string; hr: string } {
  const iso = new Date(eventTimeMs).toISOString();
  return { dt: iso.slice(0, 10), hr: iso.slice(11, 13) };
}

/**
 * The records of one partition held in memory since the last cut: [firstOffset, nextOffset),
 * grouped into one file per event hour. Cut points depend only on the records from the previous
 * cut, and commits happen only at cut points, so a replay from a committed offset (or from the
 * start of the log) cuts at the same offsets and rewrites objects with the same names and rows.
 */
export class Segment {
  readonly firstOffset: bigint;
  readonly openedAtMs: number;
  private readonly firstTimestampMs: number;
  private readonly files = new Map<string, HourFile>();
  private bytes = 0;
  private rowCount = 0;
  private next: bigint;

  constructor(first: LakeRecord, openedAtMs: number) {
    this.firstOffset = first.offset;
    this.firstTimestampMs = first.kafkaTimestampMs;
    this.openedAtMs = openedAtMs;
    this.next = first.offset;
    this.add(first);
  }

  /** The offset after the last record held. */
  get nextOffset(): bigint {
    return this.next;
  }

  get rows(): number {
    return this.rowCount;
  }

  /** Whether `record` starts the next segment rather than joining this one. */
  cutsBefore(record: LakeRecord, limits: RotationLimits): boolean {
    const block = BigInt(limits.rows);
    return (
      record.offset / block !== this.firstOffset / block ||
      this.bytes + record.bytes > limits.bytes ||
      record.kafkaTimestampMs - this.firstTimestampMs >= limits.ageMs
    );
  }

  add(record: LakeRecord): void {
    const { dt, hr } = hourOf(record.eventTimeMs);
    const key = `${dt}/${hr}`;
    let file = this.files.get(key);
    if (!file) {
      file = { dt, hr, firstOffset: record.offset, lastOffset: record.offset, rows: [] };
      this.files.set(key, file);
    }
    file.rows.push(record.row);
    file.lastOffset = record.offset;
    this.bytes += record.bytes;
    this.rowCount++;
    this.next = record.offset + 1n;
  }

  hourFiles(): HourFile[] {
    return [...this.files.values()];
  }
}
