import { frame } from '../../shared/avro/wire-format.ts';
import type { DecodedRecord, RawRecord } from '../../shared/kafka/records.ts';
import type { Logger } from '../../shared/logging/logger.ts';
import { handleIsolatingFailures, untilDone } from '../../shared/runtime/failure-isolation.ts';
import type { WorkerDefinition } from '../../shared/runtime/worker-definition.ts';
import { compareOffsets } from '../../workers/lake/layout.ts';
import { listLakeObjects } from '../../workers/lake/lake-listing.ts';
import type { AvroTopic } from '../../workers/lake/lake-rows.ts';
import type { LakeStore } from '../../workers/lake/lake-store.ts';
import { decodeParquet } from '../../workers/lake/parquet-reader.ts';
import { lakeReplayGroups, type LakeObjectSpan } from './backfill-plan.ts';

/** Where a topic's records sit in the lake, and how they are framed again. */
export interface LakeSource {
  store: LakeStore;
  /** LAKE_PREFIX */
  prefix: string;
  topic: string;
  avro: AvroTopic;
  /** The registry id of `avro.schema` under the topic's subject. */
  schemaId: number;
}

/** The lake's objects of the topic, with the offsets of their rows. */
export async function lakeObjectsOf(source: LakeSource): Promise<LakeObjectSpan[]> {
  const listed = await listLakeObjects(source.store, source.prefix, `${source.prefix}${source.topic}/`);
  return listed.flatMap((o) =>
    o.lastOffset === undefined
      ? []
      : [{ key: o.key, partition: o.partition, firstOffset: o.firstOffset, lastOffset: o.lastOffset }],
  );
}

/**
 * Feeds the worker the topic's records the lake holds, each partition in offset order, through
 * the worker's own prepare, decode and handle (with the runtime's retries and isolation of a
 * failing record), as they came from Kafka: same partitions, same offsets, so the sinks' fences
 * hold, and the Kafka part of a rebuild goes on after the lake's last offset. Records the worker
 * rejects are logged (the live worker dead-lettered them already). Returns the records fed.
 */
export async function replayLake<T>(
  source: LakeSource,
  objects: readonly LakeObjectSpan[],
  worker: WorkerDefinition<T>,
  options: { batchSize: number; logger: Logger; signal: AbortSignal; onRecords?: (count: number) => void },
): Promise<number> {
  const { logger, signal } = options;
  const heartbeat = async () => {};
  let fed = 0;
  for (const [partition, groups] of lakeReplayGroups(objects)) {
    for (const group of groups) {
      const rows = (
        await Promise.all(group.map(async (o) => decodeParquet(await source.store.get(o.key)).rows))
      )
        .flat()
        .sort((a, b) => compareOffsets(a._kafka_offset as bigint, b._kafka_offset as bigint));
      // Overlapping objects (a compaction cut short) hold some rows twice.
      const unique = rows.filter((r, i) => i === 0 || r._kafka_offset !== rows[i - 1]!._kafka_offset);
      for (let i = 0; i < unique.length; i += options.batchSize) {
        if (signal.aborted) return fed;
        const raw: RawRecord[] = unique.slice(i, i + options.batchSize).map((row) => ({
          topic: source.topic,
          partition,
          offset: String(row._kafka_offset),
          key: Buffer.from(String(row[source.avro.keyField])),
          value: frame(source.schemaId, source.avro.contract.type.toBuffer(row)),
          // The write time is not kept; the event time stands in (a reader checks event time against it).
          timestamp: String(row[source.avro.eventTimeField ?? ''] ?? Date.now()),
          headers: {},
        }));
        if (worker.prepare) {
          const prepared = await untilDone(
            'preparing batch',
            () => worker.prepare!(raw),
            raw.length,
            logger,
            heartbeat,
            signal,
          );
          if (!prepared) return fed;
        }
        const decoded: DecodedRecord<T>[] = [];
        for (const record of raw) {
          try {
            const value = worker.decode(record);
            if (value !== null) decoded.push({ raw: record, value });
          } catch (err) {
            logger.warn(
              { err, partition, offset: record.offset },
              'lake record skipped: the worker cannot decode it',
            );
          }
        }
        const rejected = await handleIsolatingFailures(worker, decoded, { logger, signal, heartbeat });
        if (!rejected) return fed;
        for (const { record, error } of rejected)
          logger.warn(
            { err: error, partition, offset: record.raw.offset },
            'lake record rejected by the worker',
          );
        fed += raw.length;
        options.onRecords?.(fed);
      }
    }
  }
  return fed;
}
