import type { z } from 'zod';
import { topicNames } from '../../schemas/topics.ts';
import { cdcTables, type CdcTable } from '../../schemas/cdc.ts';
import { reactionContract, reactionSchema } from '../../schemas/reaction.ts';
import type { AvroContract } from '../../shared/avro/avro-contract.ts';
import { decodeChangeEvent, type ChangeEvent } from '../../shared/cdc/debezium.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import type { RawRecord } from '../../shared/kafka/records.ts';
import { columnsFromAvro, columnsFromZod, type AvroType, type Column, type LakeRow } from './columns.ts';
import type { LakeRecord } from './segment.ts';

/** Where every row came from in Kafka; with the topic (the object's path) it identifies the event. */
export const positionColumns: Column[] = [
  { name: '_kafka_partition', type: 'int32', nullable: false },
  { name: '_kafka_offset', type: 'int64', nullable: false },
];

/** What a CDC row adds to the table's columns: the change, its LSN and transaction, and when it happened. */
export const changeColumns: Column[] = [
  { name: '_op', type: 'string', nullable: false },
  { name: '_lsn', type: 'int64', nullable: false },
  { name: '_tx_id', type: 'int64', nullable: true },
  { name: '_changed_at', type: 'timestamp', nullable: false },
];

/**
 * The Avro topics the lake knows: each is read through its contract in schemas/ (the reader
 * schema: records of older and newer compatible writer schemas are projected onto it), and typed
 * from the schema's JSON (avsc drops logical types it has no class for, such as timestamp-millis).
 * A field added to the schema there adds a column; objects written before stay readable beside.
 * The contract is loose: a field a newer writer has and the schema here lacks is kept too, as a
 * column of its own (columns.ts withAddedColumns), so the lake loses nothing producers wrote
 * before the lake's release has their field.
 */
export interface AvroTopic {
  contract: AvroContract<LakeRow>;
  /** The reader's schema as registered (a rebuild from the lake frames rows with its registry id). */
  schema: unknown;
  columns: Column[];
  /** The schema's first timestamp field: the event time that picks the Hive partition. */
  eventTimeField: string | undefined;
  /** The field the producers key records by (the lake keeps values, not keys). */
  keyField: string;
}

function avroTopic<T>(contract: AvroContract<T>, schema: unknown, keyField: string): AvroTopic {
  const columns = columnsFromAvro(schema as { fields: { name: string; type: AvroType }[] });
  return {
    // The lake reads every value generically, as a row by field name, whatever its TypeScript type.
    contract: contract.loose() as unknown as AvroContract<LakeRow>,
    schema,
    columns,
    eventTimeField: columns.find((c) => c.type === 'timestamp')?.name,
    keyField,
  };
}

const avroTopics: Readonly<Record<string, AvroTopic>> = {
  [topicNames.reactions]: avroTopic(reactionContract, reactionSchema, 'content_id'),
};

/** The table of a Debezium topic (`<server>.<schema>.<table>`), if the lake knows it. */
export function cdcTableOf(topic: string): CdcTable | undefined {
  const table = topic.split('.').pop()!;
  return topic.split('.').length === 3 && table in cdcTables ? (table as CdcTable) : undefined;
}

/** How to read an Avro topic, if the lake knows it. */
export function avroTopicOf(topic: string): AvroTopic | undefined {
  return Object.hasOwn(avroTopics, topic) ? avroTopics[topic] : undefined;
}

/** The columns of a CDC topic's files: the row's columns from its zod schema, then the change's, then the position. */
export function cdcColumns(table: CdcTable): Column[] {
  return [...columnsFromZod(cdcTables[table]), ...changeColumns, ...positionColumns];
}

/** The columns of a topic's files; throws for a topic the lake cannot type. */
export function lakeColumns(topic: string): Column[] {
  const table = cdcTableOf(topic);
  if (table) return cdcColumns(table);
  const avro = avroTopicOf(topic);
  if (avro) return [...avro.columns, ...positionColumns];
  throw new KooError(
    'CONFIG_INVALID',
    `lake: no schema for topic ${topic} (a Debezium table in schemas/cdc.ts, or one of ${Object.keys(avroTopics).join(', ')})`,
  );
}

function position(raw: RawRecord): Pick<LakeRecord, 'offset' | 'kafkaTimestampMs' | 'bytes'> {
  return {
    offset: BigInt(raw.offset),
    kafkaTimestampMs: Number(raw.timestamp),
    bytes: (raw.key?.length ?? 0) + (raw.value?.length ?? 0),
  };
}

/**
 * The tables' row schemas with their unknown columns kept: a column added to a source table
 * reaches the lake as a column of its own (columns.ts withAddedColumns) with no release here.
 */
const lakeRowSchemas = Object.fromEntries(
  Object.entries(cdcTables).map(([table, schema]) => [table, schema.loose()]),
) as Record<string, z.ZodType<Record<string, unknown>>>;

/** Pure: a Debezium record of a table as a row; null for a tombstone; throws (→ DLQ) for a bad change. */
export function cdcRecord(raw: RawRecord, table: CdcTable): LakeRecord | null {
  const change = decodeChangeEvent(raw, lakeRowSchemas[table]!);
  return change && changeRecord(raw, change);
}

/** A change flattened to one row (the row after the change; for a delete, the row before), at its change time. */
function changeRecord(raw: RawRecord, change: ChangeEvent<Record<string, unknown>>): LakeRecord {
  const row: LakeRow = {
    ...(change.after ?? change.before)!,
    _op: change.op,
    _lsn: change.lsn,
    _tx_id: change.txId,
    _changed_at: change.changedAtMs,
    _kafka_partition: raw.partition,
    _kafka_offset: raw.offset,
  };
  return { ...position(raw), eventTimeMs: change.changedAtMs, row };
}

/** Pure: a decoded Avro value as a row, at its event time (the schema's first timestamp, else the Kafka timestamp). */
export function avroRecord(raw: RawRecord, value: LakeRow, eventTimeField: string | undefined): LakeRecord {
  const p = position(raw);
  const eventTime = eventTimeField === undefined ? null : value[eventTimeField];
  return {
    ...p,
    eventTimeMs: typeof eventTime === 'number' ? eventTime : p.kafkaTimestampMs,
    row: { ...value, _kafka_partition: raw.partition, _kafka_offset: raw.offset },
  };
}
