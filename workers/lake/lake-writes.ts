import { KooError } from '../../shared/errors/koo-error.ts';
import { objectKey, parseObjectKey, partitionHourPrefix, type EventHour } from './layout.ts';
import type { LakeStore, PutCondition, StoredObject } from './lake-store.ts';

/**
 * The rule every lake write follows: an object never comes to hold fewer rows than it did.
 *
 * An object holds every row of its Kafka partition and event hour from its first offset (its
 * name) to its last (recorded on it): an hour file of a segment, a larger upload of the same
 * file, or a compacted object that merged many. Before a write, the object of the partition and
 * hour that starts at or before the file (the holder) is looked up; when it already holds all of
 * the file's rows, the file is not written. This keeps an early upload still in flight from a
 * member that lost the partition from replacing its new owner's larger object, and keeps a replay
 * from writing back the small objects that compaction merged. The write itself is conditional
 * on the holder being unchanged, so a writer that raced and lost looks again.
 */
export interface Holder extends StoredObject {
  key: string;
  firstOffset: bigint;
}

export type PutPlan = { write: true; condition: PutCondition } | { write: false; heldBy: string };

export interface FileRange {
  key: string;
  firstOffset: bigint;
  lastOffset: bigint;
}

/** Pure: whether and on what condition to write `file` over what its holder holds. */
export function planPut(file: FileRange, holder: Holder | undefined): PutPlan {
  if (!holder) return { write: true, condition: { ifNoneMatch: '*' } };
  const holds = holder.lastOffset; // undefined: written before the lake recorded it; replaceable
  if (holder.key === file.key) {
    // The same file: replace it unless it already reaches as far (the same rows: a replay, or a
    // cut after an early upload of them) or further (a newer owner's upload, or a compacted
    // object). The same rows are left as they are, not rewritten: an Iceberg table may hold the
    // object with its size, and another release may encode the rows otherwise.
    if (holds !== undefined && holds >= file.lastOffset) return { write: false, heldBy: holder.key };
    return { write: true, condition: { ifMatch: holder.etag } };
  }
  // An object that starts before the file, or a compacted one that starts with it: a compacted
  // object holds the file whole, or holds none of it.
  // (A partial overlap needs segments cut differently from the original run, which a replay from
  // a cut point never does; writing then risks duplicates rather than losing rows.)
  if (holds !== undefined && holds >= file.lastOffset) return { write: false, heldBy: holder.key };
  return { write: true, condition: { ifNoneMatch: '*' } };
}

/**
 * Pure: of a partition-hour's keys, the object that starts last at or before `firstOffset`; of
 * objects that start at the same offset, the one whose name says it reaches furthest (a compacted
 * object beside the segment file it merged, until compaction deletes that file).
 */
export function holderKey(prefix: string, keys: readonly string[], firstOffset: bigint) {
  let best: { key: string; firstOffset: bigint; reach: bigint } | undefined;
  for (const key of keys) {
    const place = parseObjectKey(prefix, key);
    if (!place || place.firstOffset > firstOffset) continue;
    const reach = place.namedLastOffset ?? -1n;
    if (
      !best ||
      place.firstOffset > best.firstOffset ||
      (place.firstOffset === best.firstOffset && reach > best.reach)
    )
      best = { key, firstOffset: place.firstOffset, reach };
  }
  return best && { key: best.key, firstOffset: best.firstOffset };
}

const MAX_RACES = 5;

/**
 * What became of an hour file: written now, `present` (its object holds exactly its rows
 * already: the file as it is), or `held` by another object (a compacted one, or a newer owner's
 * larger upload of it).
 */
export type PutOutcome = { outcome: 'written' | 'present'; bytes: number } | { outcome: 'held' };

/** Writes an hour file by the rule above. `encode` runs only when a write is due. */
export async function putHourFile(
  store: LakeStore,
  place: { prefix: string; topic: string; partition: number; hour: EventHour },
  file: { firstOffset: bigint; lastOffset: bigint },
  encode: () => Uint8Array,
): Promise<PutOutcome> {
  const { prefix, topic, partition, hour } = place;
  const key = objectKey(prefix, topic, partition, { ...hour, firstOffset: file.firstOffset });
  let body: Uint8Array | undefined;
  for (let race = 0; race < MAX_RACES; race++) {
    const listed = await store.listAll(partitionHourPrefix(prefix, topic, partition, hour));
    const found = holderKey(
      prefix,
      listed.map((o) => o.key),
      file.firstOffset,
    );
    const stored = found && (await store.head(found.key));
    const plan = planPut({ key, ...file }, found && stored && { ...found, ...stored });
    if (!plan.write)
      return plan.heldBy === key && stored?.lastOffset === file.lastOffset
        ? { outcome: 'present', bytes: stored.size }
        : { outcome: 'held' };
    body ??= encode();
    if (await store.put(key, body, { lastOffset: file.lastOffset, condition: plan.condition }))
      return { outcome: 'written', bytes: body.length };
  }
  throw new KooError('SINK_UNAVAILABLE', `lake: ${key} kept changing under ${MAX_RACES} conditional writes`, {
    retriable: true,
  });
}
