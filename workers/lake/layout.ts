import type { HourFile } from './segment.ts';

/** One Hive partition of a topic: the event hour `dt=YYYY-MM-DD/hr=HH`. */
export type EventHour = Pick<HourFile, 'dt' | 'hr'>;

/**
 * Where the lake keeps things: `<prefix><topic>/dt=YYYY-MM-DD/hr=HH/<topic>+<partition>+<firstOffset>.parquet`.
 * The name is a function of the rows' position in Kafka, so writing the same rows again
 * replaces the object instead of adding one.
 */
export function objectKey(
  prefix: string,
  topic: string,
  partition: number,
  file: EventHour & Pick<HourFile, 'firstOffset'>,
): string {
  return `${partitionHourPrefix(prefix, topic, partition, file)}${file.firstOffset}.parquet`;
}

/**
 * The key of a compacted object: `<topic>+<partition>+<firstOffset>-<lastOffset>.parquet`, a name
 * no segment file has, so that the merged object is a new file beside the ones it replaces (an
 * Iceberg table's files never change) and a re-run that merges the same rows finds it by name.
 */
export function compactedKey(
  prefix: string,
  topic: string,
  partition: number,
  hour: EventHour,
  range: { firstOffset: bigint; lastOffset: bigint },
): string {
  return `${partitionHourPrefix(prefix, topic, partition, hour)}${range.firstOffset}-${range.lastOffset}.parquet`;
}

/** The key prefix of one Kafka partition's objects in one event hour. */
export function partitionHourPrefix(
  prefix: string,
  topic: string,
  partition: number,
  hour: EventHour,
): string {
  return `${hourPrefix(prefix, topic, hour)}${topic}+${partition}+`;
}

export function hourPrefix(prefix: string, topic: string, hour: EventHour): string {
  return `${prefix}${topic}/dt=${hour.dt}/hr=${hour.hr}/`;
}

/** When the event hour starts, in ms since the epoch (UTC). */
export function hourStartMs(hour: EventHour): number {
  return Date.parse(`${hour.dt}T${hour.hr}:00:00Z`);
}

/** Where an object's name says it is, or undefined for a key that is not a lake object. */
export interface ObjectPlace extends EventHour {
  topic: string;
  partition: number;
  firstOffset: bigint;
  /** The last offset a compacted object's name gives (`compactedKey`); undefined for a segment file. */
  namedLastOffset?: bigint;
}

const keyPattern = /^(.+)\/dt=(\d{4}-\d{2}-\d{2})\/hr=(\d{2})\/(.+)\+(\d+)\+(\d+)(?:-(\d+))?\.parquet$/;

/** Pure: the inverse of `objectKey` and `compactedKey` for a key below `prefix`. */
export function parseObjectKey(prefix: string, key: string): ObjectPlace | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const m = keyPattern.exec(key.slice(prefix.length));
  if (!m || m[1] !== m[4]) return undefined;
  const place = { topic: m[1]!, dt: m[2]!, hr: m[3]!, partition: Number(m[5]), firstOffset: BigInt(m[6]!) };
  return m[7] === undefined ? place : { ...place, namedLastOffset: BigInt(m[7]) };
}

/** Ascending order of Kafka offsets, for sort(). */
export function compareOffsets(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
