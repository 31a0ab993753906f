import { randomBytes, randomUUID } from 'node:crypto';
import type { Column, ColumnType } from '../columns.ts';

/**
 * Iceberg table metadata (format version 2), the parts the lake writes: one schema per change of
 * columns, one partition spec (the hour of the event-time column: hidden partitioning), append
 * snapshots. Pure: the catalog and S3 adapters store what these functions return.
 * https://iceberg.apache.org/spec/#table-metadata
 */

export type IcebergPrimitive = 'string' | 'boolean' | 'int' | 'long' | 'double' | 'timestamp';

export interface SchemaField {
  id: number;
  name: string;
  type: IcebergPrimitive;
  required: boolean;
}

export interface IcebergSchema {
  type: 'struct';
  'schema-id': number;
  fields: SchemaField[];
}

export interface PartitionField {
  'source-id': number;
  'field-id': number;
  transform: 'hour';
  name: string;
}

export interface Snapshot {
  'snapshot-id': number | bigint;
  'parent-snapshot-id'?: number | bigint;
  'sequence-number': number;
  'timestamp-ms': number;
  'manifest-list': string;
  summary: Record<string, string> & { operation: string };
  'schema-id': number;
}

export interface TableMetadata {
  'format-version': 2;
  'table-uuid': string;
  location: string;
  'last-sequence-number': number;
  'last-updated-ms': number;
  'last-column-id': number;
  schemas: IcebergSchema[];
  'current-schema-id': number;
  'partition-specs': { 'spec-id': number; fields: PartitionField[] }[];
  'default-spec-id': number;
  'last-partition-id': number;
  properties: Record<string, string>;
  'current-snapshot-id'?: number | bigint;
  snapshots: Snapshot[];
  'snapshot-log': { 'snapshot-id': number | bigint; 'timestamp-ms': number }[];
  'metadata-log': { 'metadata-file': string; 'timestamp-ms': number }[];
  'sort-orders': { 'order-id': number; fields: never[] }[];
  'default-sort-order-id': number;
  refs: Record<string, { 'snapshot-id': number | bigint; type: 'branch' }>;
}

/** Field id of the first (only) partition field: Iceberg starts partition field ids at 1000. */
export const HOUR_FIELD_ID = 1000;

const icebergTypes: Record<ColumnType, IcebergPrimitive> = {
  string: 'string',
  boolean: 'boolean',
  int32: 'int',
  int64: 'long',
  double: 'double',
  timestamp: 'timestamp', // microseconds, no zone: what the Parquet files hold
};

/**
 * Readers match a file's columns to the table's by name through this mapping: the lake's Parquet
 * files carry no field ids (a column added to a source table gets its id only when the commit
 * that first holds it adds it to the schema). https://iceberg.apache.org/spec/#column-projection
 */
export const NAME_MAPPING = 'schema.name-mapping.default';

/** A new table: the schema of `columns`, partitioned by the hour of `hourColumn` (none: unpartitioned). */
export function newTableMetadata(
  location: string,
  columns: readonly Column[],
  hourColumn: string | undefined,
  nowMs: number,
): TableMetadata {
  const fields = columns.map((c, i) => field(i + 1, c));
  const source = fields.find((f) => f.name === hourColumn);
  return {
    'format-version': 2,
    'table-uuid': randomUUID(),
    location,
    'last-sequence-number': 0,
    'last-updated-ms': nowMs,
    'last-column-id': fields.length,
    schemas: [{ type: 'struct', 'schema-id': 0, fields }],
    'current-schema-id': 0,
    'partition-specs': [
      {
        'spec-id': 0,
        fields: source
          ? [
              {
                'source-id': source.id,
                'field-id': HOUR_FIELD_ID,
                transform: 'hour',
                name: `${source.name}_hour`,
              },
            ]
          : [],
      },
    ],
    'default-spec-id': 0,
    'last-partition-id': source ? HOUR_FIELD_ID : 999,
    properties: { [NAME_MAPPING]: nameMapping(fields) },
    snapshots: [],
    'snapshot-log': [],
    'metadata-log': [],
    'sort-orders': [{ 'order-id': 0, fields: [] }],
    'default-sort-order-id': 0,
    refs: {},
  };
}

function field(id: number, column: Column): SchemaField {
  return { id, name: column.name, type: icebergTypes[column.type], required: !column.nullable };
}

function nameMapping(fields: readonly SchemaField[]): string {
  return JSON.stringify(fields.map((f) => ({ 'field-id': f.id, names: [f.name] })));
}

export function currentSchema(metadata: TableMetadata): IcebergSchema {
  return metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id'])!;
}

export function currentSnapshot(metadata: TableMetadata): Snapshot | undefined {
  const id = metadata['current-snapshot-id'];
  return id === undefined || id === -1 ? undefined : metadata.snapshots.find((s) => s['snapshot-id'] === id);
}

export function hourPartitionField(metadata: TableMetadata): PartitionField | undefined {
  return metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id'])!.fields[0];
}

/**
 * The schema that holds `columns` as well: the current one when it does; else a new schema with
 * the missing columns appended as optional fields under new ids (Iceberg's add-column, so files
 * written before read them as null).
 */
export function schemaHolding(metadata: TableMetadata, columns: readonly Column[]): IcebergSchema {
  const schema = currentSchema(metadata);
  const known = new Set(schema.fields.map((f) => f.name));
  // Each name once: the columns may be several segments' (lake-tables.ts adds them in one commit).
  const added = columns.filter((c) => !known.has(c.name) && known.add(c.name));
  if (added.length === 0) return schema;
  const lastId = metadata['last-column-id'];
  return {
    type: 'struct',
    'schema-id': Math.max(...metadata.schemas.map((s) => s['schema-id'])) + 1,
    fields: [...schema.fields, ...added.map((c, i) => field(lastId + 1 + i, { ...c, nullable: true }))],
  };
}

/** Summary keys that say how far each Kafka partition has been added: `koo.next-offset.<partition>`. */
const NEXT_OFFSET = 'koo.next-offset.';

/** The offset after the last record of `partition` the table holds (0n: none). */
export function addedThrough(metadata: TableMetadata, partition: number): bigint {
  const recorded = currentSnapshot(metadata)?.summary[`${NEXT_OFFSET}${partition}`];
  return recorded === undefined ? 0n : BigInt(recorded);
}

/** A new snapshot id: positive, and within a double's integers so any JSON reader keeps it exact. */
export function newSnapshotId(): number {
  return Number(randomBytes(8).readBigUInt64BE() & ((1n << 53n) - 1n)) || 1;
}

/** Files, records and bytes a snapshot adds or removes. */
export interface FileTotals {
  files: number;
  records: number;
  bytes: number;
}

export interface SnapshotCommit {
  /** `append`: files added only; `replace`: files rewritten, the rows unchanged (compaction). */
  operation: 'append' | 'replace';
  snapshotId: number;
  sequenceNumber: number;
  manifestList: string;
  schema: IcebergSchema;
  /** Kafka partition → the offset after the last record now held (appends). */
  nextOffsets: ReadonlyMap<number, bigint>;
  added: FileTotals;
  deleted: FileTotals;
  nowMs: number;
}

/** Pure: the metadata after a snapshot, carrying every partition's offsets and the totals forward. */
export function withSnapshot(metadata: TableMetadata, commit: SnapshotCommit): TableMetadata {
  const parent = currentSnapshot(metadata);
  const total = (key: string, added: number, deleted: number) =>
    String(Number(parent?.summary[key] ?? 0) + added - deleted);
  const offsets = Object.fromEntries(
    Object.entries(parent?.summary ?? {}).filter(([key]) => key.startsWith(NEXT_OFFSET)),
  );
  for (const [partition, next] of commit.nextOffsets) offsets[`${NEXT_OFFSET}${partition}`] = String(next);
  const { added, deleted } = commit;
  const snapshot: Snapshot = {
    'snapshot-id': commit.snapshotId,
    ...(parent ? { 'parent-snapshot-id': parent['snapshot-id'] } : {}),
    'sequence-number': commit.sequenceNumber,
    'timestamp-ms': commit.nowMs,
    'manifest-list': commit.manifestList,
    summary: {
      operation: commit.operation,
      'added-data-files': String(added.files),
      'added-records': String(added.records),
      'added-files-size': String(added.bytes),
      'deleted-data-files': String(deleted.files),
      'deleted-records': String(deleted.records),
      'removed-files-size': String(deleted.bytes),
      'total-data-files': total('total-data-files', added.files, deleted.files),
      'total-records': total('total-records', added.records, deleted.records),
      'total-files-size': total('total-files-size', added.bytes, deleted.bytes),
      'total-delete-files': '0',
      'total-position-deletes': '0',
      'total-equality-deletes': '0',
      ...offsets,
    },
    'schema-id': commit.schema['schema-id'],
  };
  const newSchema = !metadata.schemas.some((s) => s['schema-id'] === commit.schema['schema-id']);
  return {
    ...metadata,
    'last-sequence-number': commit.sequenceNumber,
    'last-updated-ms': commit.nowMs,
    ...(newSchema
      ? {
          schemas: [...metadata.schemas, commit.schema],
          'last-column-id': Math.max(metadata['last-column-id'], ...commit.schema.fields.map((f) => f.id)),
          properties: { ...metadata.properties, [NAME_MAPPING]: nameMapping(commit.schema.fields) },
        }
      : {}),
    'current-schema-id': commit.schema['schema-id'],
    'current-snapshot-id': commit.snapshotId,
    snapshots: [...metadata.snapshots, snapshot],
    'snapshot-log': [
      ...metadata['snapshot-log'],
      { 'snapshot-id': commit.snapshotId, 'timestamp-ms': commit.nowMs },
    ],
    refs: { ...metadata.refs, main: { 'snapshot-id': commit.snapshotId, type: 'branch' } },
  };
}

/** How many earlier metadata files the log keeps (Iceberg's write.metadata.previous-versions-max). */
const METADATA_LOG_MAX = 100;

/** Pure: `next`, stored in place of the metadata at `previous`, with the log of earlier files. */
export function succeeding(
  next: TableMetadata,
  previous: { location: string; metadata: TableMetadata },
): TableMetadata {
  return {
    ...next,
    'metadata-log': [
      ...previous.metadata['metadata-log'],
      { 'metadata-file': previous.location, 'timestamp-ms': previous.metadata['last-updated-ms'] },
    ].slice(-METADATA_LOG_MAX),
  };
}

/**
 * Pure: the metadata without the snapshots committed before `cutoffMs`, the current one always
 * kept (a reader AS OF an expired snapshot gets an error instead of rows); undefined when none is
 * that old.
 */
export function withoutSnapshotsBefore(metadata: TableMetadata, cutoffMs: number, nowMs: number) {
  const current = metadata['current-snapshot-id'];
  const kept = metadata.snapshots.filter(
    (s) => s['timestamp-ms'] >= cutoffMs || s['snapshot-id'] === current,
  );
  if (kept.length === metadata.snapshots.length) return undefined;
  const ids = new Set(kept.map((s) => s['snapshot-id']));
  return {
    ...metadata,
    'last-updated-ms': nowMs,
    snapshots: kept,
    'snapshot-log': metadata['snapshot-log'].filter((l) => ids.has(l['snapshot-id'])),
  };
}

/** JSON with 64-bit integers kept exact (snapshot ids written by other engines exceed 2^53). */
export function parseMetadata(text: string): TableMetadata {
  return JSON.parse(text, (_key, value, context?: { source?: string }) =>
    typeof value === 'number' && !Number.isSafeInteger(value) && /^-?\d+$/.test(context?.source ?? '')
      ? BigInt(context!.source!)
      : value,
  ) as TableMetadata;
}

export function serializeMetadata(metadata: TableMetadata): string {
  return JSON.stringify(metadata, (_key, value: unknown) =>
    typeof value === 'bigint'
      ? (JSON as unknown as { rawJSON(s: string): unknown }).rawJSON(String(value))
      : value,
  );
}
