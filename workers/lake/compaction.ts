import type { Column, LakeRow } from './columns.ts';
import type { LakeTables } from './iceberg/lake-tables.ts';
import {
  compactedKey,
  compareOffsets,
  hourPrefix,
  hourStartMs,
  parseObjectKey,
  type EventHour,
} from './layout.ts';
import type { LakeObject, LakeStore } from './lake-store.ts';
import { encodeParquet } from './parquet-encoder.ts';
import { decodeParquet } from './parquet-reader.ts';
import { columnMetrics, type ColumnMetrics } from './iceberg/column-metrics.ts';

/**
 * Compaction of a closed hour: per Kafka partition, the hour's objects whose rows are all below
 * the lake group's committed offset are merged into one new object named by its offset range
 * (`compactedKey`); where the topic is an Iceberg table, one rewrite commit then swaps the merged
 * object in for the objects it covers; only then are those deleted. Rows are merged by offset,
 * so running it again after a crash at any step finds the same object by name and finishes.
 *
 * Readers never miss a row. Iceberg readers see the old files or the new one, never both (the
 * commit is atomic). Readers of the Hive layout see the merged rows twice between the write and
 * the delete (after a crash, until a re-run), which `_kafka_partition` and `_kafka_offset` identify and
 * `koo lake ls` reports as overlaps. A replay of the lake worker leaves compacted objects alone
 * (lake-writes.ts).
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
  /** Its size in bytes. */
  bytes: number;
  /** Objects merged into it, itself included. */
  merged: number;
  /** The merged object was there before: a re-run, or one object only. */
  unchanged: boolean;
  /** Objects covered by `key`, deleted. */
  deleted: string[];
  /** The merged rows' column metrics, for the table's entry of the merged object. */
  metrics: ReadonlyMap<string, ColumnMetrics>;
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
  for (const rows of runs) for (const row of rows) byOffset.set(BigInt(row._kafka_offset as bigint), row);
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
 * Step 1 for one partition: writes the merged object under its own name, unless an object of that
 * name is there (a re-run: names are a function of the rows). Returns what the later steps swap.
 */
export async function mergePartitionHour(
  store: LakeStore,
  hour: HourToCompact,
  partition: number,
  candidates: readonly LakeObject[],
): Promise<PartitionCompaction | undefined> {
  const below = hour.committed.get(partition)!;
  const eligible: { object: LakeObject; rows: LakeRow[]; columns: Column[] }[] = [];
  for (const object of candidates) {
    const { rows, columns } = decodeParquet(await store.get(object.key));
    // Only objects whose rows are all committed: anything else may still grow or be rewritten.
    if (rows.every((r) => BigInt(r._kafka_offset as bigint) < below))
      eligible.push({ object, rows, columns });
  }
  if (eligible.length === 0) return undefined;
  const rows = mergeByOffset(eligible.map((e) => e.rows));
  const offset = (row: LakeRow) => BigInt(row._kafka_offset as bigint);
  const range = { firstOffset: offset(rows[0]!), lastOffset: offset(rows[rows.length - 1]!) };
  // One object holding every row is the merge already (a re-run, or nothing to merge).
  const holder = eligible.find((e) => e.rows.length === rows.length);
  const key = holder?.object.key ?? compactedKey(hour.prefix, hour.topic, partition, hour, range);
  const columns = mergedColumns(
    hour.columns,
    eligible.map((e) => e.columns),
  );
  const result = {
    partition,
    key,
    rows: rows.length,
    merged: eligible.length,
    deleted: eligible.map((e) => e.object.key).filter((k) => k !== key),
    metrics: columnMetrics(columns, rows),
  };
  if (holder) return { ...result, bytes: holder.object.size, unchanged: true };
  const body = encodeParquet(columns, rows);
  // Not written: a run that merged the same rows wrote it between our listing and now.
  await store.put(key, body, { lastOffset: range.lastOffset, condition: { ifNoneMatch: '*' } });
  return { ...result, bytes: body.length, unchanged: false };
}

/**
 * Every step for every partition of the hour: merge; swap the merged object in for the objects it
 * covers in the topic's Iceberg table (when there is one); delete them.
 */
export async function compactHour(
  store: LakeStore,
  hour: HourToCompact,
  tables?: LakeTables,
): Promise<PartitionCompaction[]> {
  const objects = await store.listAll(hourPrefix(hour.prefix, hour.topic, hour));
  const results: PartitionCompaction[] = [];
  for (const [partition, candidates] of compactionCandidates(hour.prefix, objects, hour.committed)) {
    const result = await mergePartitionHour(store, hour, partition, candidates);
    if (!result) continue;
    if (tables && result.deleted.length > 0) {
      await tables.replace(hour.topic, {
        deleted: result.deleted,
        added: {
          key: result.key,
          records: result.rows,
          bytes: result.bytes,
          eventHourMs: hourStartMs(hour),
          metrics: result.metrics,
        },
      });
    }
    await store.delete(result.deleted);
    results.push(result);
  }
  return results.sort((a, b) => a.partition - b.partition);
}
