import type { Column, LakeRow } from './columns.ts';
import { compareOffsets, hourPrefix, parseObjectKey, type EventHour } from './layout.ts';
import type { LakeObject, LakeStore } from './lake-store.ts';
import { encodeParquet } from './parquet-encoder.ts';
import { decodeParquet } from './parquet-reader.ts';

/**
 * Compaction of a closed hour: per Kafka partition, the hour's objects whose rows are all below
 * the lake group's committed offset are merged into one object, written in place of the one
 * with the smallest first offset (so its name stays what the layout says), and then the others
 * are deleted. Rows are merged by offset, so running it again after a crash at any step gives
 * the same object and deletes what it covers.
 *
 * Readers never miss a row: the merged object is written before anything is deleted. Between
 * that write and the delete (one request; after a crash, until a re-run) the merged rows are
 * there twice, which `_partition` and `_offset` identify and `koo lake ls` reports as overlaps.
 * A replay of the lake worker leaves compacted objects alone (lake-writes.ts).
 */
export interface HourToCompact extends EventHour {
  prefix: string;
  topic: string;
  /** The lake group's committed offset per Kafka partition: rows below it are durable and final. */
  committed: ReadonlyMap<number, bigint>;
  /** The topic's columns now; a column some objects lack (added since) becomes nullable. */
  columns: readonly Column[];
}

export interface PartitionCompaction {
  partition: number;
  /** The merged object. */
  key: string;
  rows: number;
  /** Objects merged into it, itself included. */
  merged: number;
  /** The merged object is the same as before: a re-run, or one object only. */
  unchanged: boolean;
  /** Objects covered by `key` and deleted. */
  deleted: string[];
  /** Why nothing was written, when the target changed while compaction read it. */
  skipped?: string;
}

/** Pure: per partition, the hour's objects that start below the committed offset, smallest first offset first. */
export function compactionCandidates(
  prefix: string,
  objects: readonly LakeObject[],
  committed: ReadonlyMap<number, bigint>,
): Map<number, LakeObject[]> {
  const byPartition = new Map<number, (LakeObject & { firstOffset: bigint })[]>();
  for (const o of objects) {
    const place = parseObjectKey(prefix, o.key);
    const below = place && committed.get(place.partition);
    if (!place || below === undefined || place.firstOffset >= below) continue;
    const list = byPartition.get(place.partition) ?? [];
    list.push({ ...o, firstOffset: place.firstOffset });
    byPartition.set(place.partition, list);
  }
  for (const list of byPartition.values()) list.sort((a, b) => compareOffsets(a.firstOffset, b.firstOffset));
  return byPartition;
}

/** Pure: rows of several objects as one run, in offset order, each offset once (objects may overlap after a crash). */
export function mergeByOffset(runs: readonly (readonly LakeRow[])[]): LakeRow[] {
  const byOffset = new Map<bigint, LakeRow>();
  for (const rows of runs) for (const row of rows) byOffset.set(BigInt(row._offset as bigint), row);
  return [...byOffset.keys()].sort(compareOffsets).map((o) => byOffset.get(o)!);
}

/**
 * Pure: the columns of a merged object: the topic's columns (nullable where an object lacks one,
 * added since), then the columns objects hold beyond them (a source table gained them), typed as
 * the first object that has one wrote it.
 */
export function mergedColumns(
  declared: readonly Column[],
  objects: readonly (readonly Column[])[],
): Column[] {
  const known = new Set(declared.map((c) => c.name));
  const added = new Map<string, Column>();
  for (const c of objects.flat())
    if (!known.has(c.name) && !added.has(c.name)) added.set(c.name, { ...c, nullable: true });
  return [
    ...declared.map((c) => ({
      ...c,
      nullable: c.nullable || objects.some((o) => !o.some((oc) => oc.name === c.name)),
    })),
    ...added.values(),
  ];
}

/**
 * Step 1 for one partition: writes the merged object over the first one, unless that one
 * changed meanwhile (conditional on its ETag). Returns what step 2 deletes.
 */
export async function mergePartitionHour(
  store: LakeStore,
  hour: HourToCompact,
  partition: number,
  candidates: readonly LakeObject[],
): Promise<PartitionCompaction> {
  const below = hour.committed.get(partition)!;
  const eligible: { object: LakeObject; rows: LakeRow[]; columns: Column[] }[] = [];
  for (const object of candidates) {
    const { rows, columns } = decodeParquet(await store.get(object.key));
    // Only objects whose rows are all committed: anything else may still grow or be rewritten.
    if (rows.every((r) => BigInt(r._offset as bigint) < below)) eligible.push({ object, rows, columns });
  }
  const target = eligible[0];
  const result = { partition, key: target?.object.key ?? '', merged: eligible.length, deleted: [] };
  if (!target) return { ...result, rows: 0, unchanged: true };
  const rows = mergeByOffset(eligible.map((e) => e.rows));
  const covered = eligible.slice(1).map((e) => e.object.key);
  if (rows.length === target.rows.length)
    return { ...result, rows: rows.length, unchanged: true, deleted: covered };
  const columns = mergedColumns(
    hour.columns,
    eligible.map((e) => e.columns),
  );
  const written = await store.put(target.object.key, encodeParquet(columns, rows), {
    lastOffset: BigInt(rows[rows.length - 1]!._offset as bigint),
    condition: { ifMatch: target.object.etag },
  });
  if (!written) return { ...result, rows: 0, unchanged: true, skipped: 'the object changed; run again' };
  return { ...result, rows: rows.length, unchanged: false, deleted: covered };
}

/** Both steps for every partition of the hour: merge, then delete what the merged object covers. */
export async function compactHour(store: LakeStore, hour: HourToCompact): Promise<PartitionCompaction[]> {
  const objects = await store.listAll(hourPrefix(hour.prefix, hour.topic, hour));
  const results: PartitionCompaction[] = [];
  for (const [partition, candidates] of compactionCandidates(hour.prefix, objects, hour.committed)) {
    const result = await mergePartitionHour(store, hour, partition, candidates);
    await store.delete(result.deleted);
    results.push(result);
  }
  return results.sort((a, b) => a.partition - b.partition);
}
