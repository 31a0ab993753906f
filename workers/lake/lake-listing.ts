import { mapConcurrent } from '../../shared/runtime/backoff.ts';
import { compareOffsets, parseObjectKey } from './layout.ts';
import type { LakeStore } from './lake-store.ts';
import { footerRowCount } from './parquet-reader.ts';

/** A lake object as `koo lake ls` sees it: its place, size, rows (from its footer) and last offset. */
export interface ListedObject {
  key: string;
  topic: string;
  dt: string;
  hr: string;
  partition: number;
  firstOffset: bigint;
  lastOffset: bigint | undefined;
  bytes: number;
  rows: number;
}

export interface HourSummary {
  topic: string;
  dt: string;
  hr: string;
  partitions: number;
  objects: number;
  rows: number;
  bytes: number;
  /** Objects whose rows another object of the partition also holds: a compaction to finish (re-run it). */
  overlapping: number;
}

/** The lake objects below `keyPrefix`, with row counts read from their footers (a few ranged reads each). */
export async function listLakeObjects(
  store: LakeStore,
  prefix: string,
  keyPrefix: string,
): Promise<ListedObject[]> {
  const objects = (await store.listAll(keyPrefix)).flatMap((o) => {
    const place = parseObjectKey(prefix, o.key);
    return place ? [{ ...o, ...place }] : [];
  });
  return mapConcurrent(objects, 16, async (o) => {
    let lastOffset: bigint | undefined;
    const rows = await footerRowCount(o.size, async (start, end) => {
      const range = await store.getRange(o.key, start, end);
      lastOffset = range.lastOffset;
      return range.bytes;
    });
    const { size, etag: _etag, ...place } = o;
    return { ...place, bytes: size, rows, lastOffset };
  });
}

/** Pure: objects summed per topic and event hour, in order. */
export function summarizeHours(objects: readonly ListedObject[]): HourSummary[] {
  const hours = new Map<string, { summary: HourSummary; byPartition: Map<number, ListedObject[]> }>();
  for (const o of objects) {
    const id = `${o.topic}/${o.dt}/${o.hr}`;
    let hour = hours.get(id);
    if (!hour) {
      hour = {
        summary: {
          topic: o.topic,
          dt: o.dt,
          hr: o.hr,
          partitions: 0,
          objects: 0,
          rows: 0,
          bytes: 0,
          overlapping: 0,
        },
        byPartition: new Map(),
      };
      hours.set(id, hour);
    }
    hour.summary.objects++;
    hour.summary.rows += o.rows;
    hour.summary.bytes += o.bytes;
    hour.byPartition.set(o.partition, [...(hour.byPartition.get(o.partition) ?? []), o]);
  }
  return [...hours.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, { summary, byPartition }]) => {
      summary.partitions = byPartition.size;
      for (const list of byPartition.values()) summary.overlapping += overlapping(list);
      return summary;
    });
}

function overlapping(objects: ListedObject[]): number {
  const sorted = [...objects].sort((a, b) => compareOffsets(a.firstOffset, b.firstOffset));
  let reach = -1n;
  let count = 0;
  for (const o of sorted) {
    if (o.firstOffset <= reach) count++;
    if (o.lastOffset !== undefined && o.lastOffset > reach) reach = o.lastOffset;
  }
  return count;
}
