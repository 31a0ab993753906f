import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { deflateRawSync } from 'node:zlib';
import avro from 'avsc';
import type { ColumnMetrics } from './column-metrics.ts';
import type { IcebergSchema, PartitionField } from './table-metadata.ts';

/**
 * Iceberg's manifest files and manifest lists (format version 2): Avro object container files
 * whose schemas carry the spec's field ids. https://iceberg.apache.org/spec/#manifests
 */

/** Avro longs as bigint: snapshot ids written by other engines use all 63 bits. */
const longType = avro.types.LongType.__with({
  fromBuffer: (b: Buffer) => b.readBigInt64LE(),
  toBuffer: (n: bigint | number) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    return b;
  },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: (n: unknown) => typeof n === 'bigint' || Number.isSafeInteger(n),
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});
const registry = () => ({ long: longType }) as unknown as Record<string, avro.Type>;

const optional = (name: string, id: number, type: unknown) => ({
  name,
  'field-id': id,
  type: ['null', type],
  default: null,
});
const mapOf = (keyId: number, valueId: number, value: string) => ({
  type: 'array',
  logicalType: 'map',
  items: {
    type: 'record',
    name: `k${keyId}_v${valueId}`,
    fields: [
      { name: 'key', type: 'int', 'field-id': keyId },
      { name: 'value', type: value, 'field-id': valueId },
    ],
  },
});

function manifestEntrySchema(partitionFields: readonly PartitionField[]): avro.Schema {
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', 'field-id': 0, type: 'int' },
      optional('snapshot_id', 1, 'long'),
      optional('sequence_number', 3, 'long'),
      optional('file_sequence_number', 4, 'long'),
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', 'field-id': 134, type: 'int' },
            { name: 'file_path', 'field-id': 100, type: 'string' },
            { name: 'file_format', 'field-id': 101, type: 'string' },
            {
              name: 'partition',
              'field-id': 102,
              type: {
                type: 'record',
                name: 'r102',
                fields: partitionFields.map((f) => optional(f.name, f['field-id'], 'int')),
              },
            },
            { name: 'record_count', 'field-id': 103, type: 'long' },
            { name: 'file_size_in_bytes', 'field-id': 104, type: 'long' },
            optional('column_sizes', 108, mapOf(117, 118, 'long')),
            optional('value_counts', 109, mapOf(119, 120, 'long')),
            optional('null_value_counts', 110, mapOf(121, 122, 'long')),
            optional('nan_value_counts', 137, mapOf(138, 139, 'long')),
            optional('lower_bounds', 125, mapOf(126, 127, 'bytes')),
            optional('upper_bounds', 128, mapOf(129, 130, 'bytes')),
            optional('key_metadata', 131, 'bytes'),
            optional('split_offsets', 132, { type: 'array', 'element-id': 133, items: 'long' }),
            optional('equality_ids', 135, { type: 'array', 'element-id': 136, items: 'int' }),
            optional('sort_order_id', 140, 'int'),
          ],
        },
      },
    ],
  } as avro.Schema;
}

const manifestFileSchema = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', 'field-id': 500, type: 'string' },
    { name: 'manifest_length', 'field-id': 501, type: 'long' },
    { name: 'partition_spec_id', 'field-id': 502, type: 'int' },
    { name: 'content', 'field-id': 517, type: 'int' },
    { name: 'sequence_number', 'field-id': 515, type: 'long' },
    { name: 'min_sequence_number', 'field-id': 516, type: 'long' },
    { name: 'added_snapshot_id', 'field-id': 503, type: 'long' },
    { name: 'added_files_count', 'field-id': 504, type: 'int' },
    { name: 'existing_files_count', 'field-id': 505, type: 'int' },
    { name: 'deleted_files_count', 'field-id': 506, type: 'int' },
    { name: 'added_rows_count', 'field-id': 512, type: 'long' },
    { name: 'existing_rows_count', 'field-id': 513, type: 'long' },
    { name: 'deleted_rows_count', 'field-id': 514, type: 'long' },
    optional('partitions', 507, {
      type: 'array',
      'element-id': 508,
      items: {
        type: 'record',
        name: 'r508',
        fields: [
          { name: 'contains_null', 'field-id': 509, type: 'boolean' },
          optional('contains_nan', 518, 'boolean'),
          optional('lower_bound', 510, 'bytes'),
          optional('upper_bound', 511, 'bytes'),
        ],
      },
    }),
    optional('key_metadata', 519, 'bytes'),
  ],
} as avro.Schema;

/** A data file as the lake adds it. */
export interface DataFile {
  path: string;
  records: number;
  bytes: number;
  /** Hours since the epoch of its rows (the hour partition), or undefined in an unpartitioned table. */
  hour: number | undefined;
  /** Per field id of the table's schema: the column's counts and bounds in the file. */
  metrics: ReadonlyMap<number, ColumnMetrics>;
}

/** Entry statuses: https://iceberg.apache.org/spec/#manifest-entry-fields */
export const EXISTING = 0;
export const ADDED = 1;
export const DELETED = 2;

/** One entry of a manifest, as Avro decodes it (longs as bigint) or as the lake writes it. */
export interface ManifestEntry {
  status: number;
  snapshot_id: number | bigint | null;
  sequence_number: number | bigint | null;
  file_sequence_number: number | bigint | null;
  data_file: {
    file_path: string;
    record_count: number | bigint;
    file_size_in_bytes: number | bigint;
    partition: Record<string, number | null>;
  } & Record<string, unknown>;
}

/** One entry of a manifest list, as Avro decodes it (longs as bigint). */
export type ManifestFile = Record<string, unknown> & {
  manifest_path: string;
  sequence_number: number | bigint;
  added_snapshot_id: number | bigint;
};

/** The entry of a file a snapshot adds; its sequence numbers are the manifest's (inherited on read). */
export function addedEntry(
  file: DataFile,
  snapshotId: number,
  partitionFields: readonly PartitionField[],
): ManifestEntry {
  return {
    status: ADDED,
    snapshot_id: snapshotId,
    sequence_number: null,
    file_sequence_number: null,
    data_file: {
      content: 0,
      file_path: file.path,
      file_format: 'PARQUET',
      partition: Object.fromEntries(partitionFields.map((p) => [p.name, file.hour ?? null])),
      record_count: file.records,
      file_size_in_bytes: file.bytes,
      column_sizes: null,
      value_counts: metricMap(file.metrics, (m) => m.values),
      null_value_counts: metricMap(file.metrics, (m) => m.nulls),
      nan_value_counts: null,
      lower_bounds: metricMap(file.metrics, (m) => m.lower),
      upper_bounds: metricMap(file.metrics, (m) => m.upper),
      key_metadata: null,
      split_offsets: null,
      equality_ids: null,
      sort_order_id: null,
    },
  };
}

/** An Iceberg map of field id to one metric, as Avro holds it (key-value records); null when empty. */
function metricMap<T>(
  metrics: ReadonlyMap<number, ColumnMetrics>,
  of: (m: ColumnMetrics) => T | undefined,
): { key: number; value: T }[] | null {
  const entries = [...metrics].flatMap(([key, m]) => {
    const value = of(m);
    return value === undefined ? [] : [{ key, value }];
  });
  return entries.length > 0 ? entries : null;
}

const metadataType = avro.Type.forSchema({ type: 'map', values: 'bytes' });
const countType = avro.Type.forSchema('long');

/**
 * An Avro object container file of `records` in one deflated block, with Iceberg's key-value
 * metadata. Written here rather than by avsc's encoder, which drops the schema's `field-id`
 * attributes from the header, and readers need them. https://avro.apache.org/docs/1.11.1/specification/#object-container-files
 */
function containerFile(
  schema: avro.Schema,
  records: readonly object[],
  metadata: Record<string, string>,
): Buffer {
  const type = avro.Type.forSchema(schema, { registry: registry() });
  const header = metadataType.toBuffer({
    ...Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v)])),
    'avro.schema': Buffer.from(JSON.stringify(schema)),
    'avro.codec': Buffer.from('deflate'),
  });
  const sync = randomBytes(16);
  const block = deflateRawSync(Buffer.concat(records.map((r) => type.toBuffer(r))));
  return Buffer.concat([
    Buffer.from('Obj\x01', 'latin1'),
    header,
    sync,
    countType.toBuffer(records.length),
    countType.toBuffer(block.length),
    block,
    sync,
  ]);
}

/** A manifest file of `entries`. */
export function encodeManifest(
  entries: readonly ManifestEntry[],
  context: { schema: IcebergSchema; partitionFields: readonly PartitionField[] },
): Buffer {
  return containerFile(manifestEntrySchema(context.partitionFields), entries, {
    schema: JSON.stringify(context.schema),
    'partition-spec': JSON.stringify(context.partitionFields),
    'partition-spec-id': '0',
    'format-version': '2',
    content: 'data',
  });
}

/** The manifest list entry of a manifest the snapshot writes: its counts and its partitions' range. */
export function manifestFileOf(
  manifest: { path: string; length: number },
  entries: readonly ManifestEntry[],
  context: { snapshotId: number; sequenceNumber: number; partitionFields: readonly PartitionField[] },
): ManifestFile {
  const count = (status: number) => entries.filter((e) => e.status === status);
  const rows = (list: readonly ManifestEntry[]) =>
    list.reduce((n, e) => n + Number(e.data_file.record_count), 0);
  // Reduced, not spread: a merged manifest holds more entries than a call takes arguments.
  const least = (values: readonly number[]) => values.reduce((a, b) => Math.min(a, b), Infinity);
  const most = (values: readonly number[]) => values.reduce((a, b) => Math.max(a, b), -Infinity);
  const sequences = entries.map((e) => Number(e.sequence_number ?? context.sequenceNumber));
  const int = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    return b;
  };
  return {
    manifest_path: manifest.path,
    manifest_length: manifest.length,
    partition_spec_id: 0,
    content: 0,
    sequence_number: context.sequenceNumber,
    min_sequence_number: least(sequences),
    added_snapshot_id: context.snapshotId,
    added_files_count: count(ADDED).length,
    existing_files_count: count(EXISTING).length,
    deleted_files_count: count(DELETED).length,
    added_rows_count: rows(count(ADDED)),
    existing_rows_count: rows(count(EXISTING)),
    deleted_rows_count: rows(count(DELETED)),
    partitions:
      context.partitionFields.length === 0
        ? null
        : context.partitionFields.map((p) => {
            const values = entries.map((e) => e.data_file.partition[p.name] ?? null);
            const known = values.filter((v): v is number => v !== null);
            return {
              contains_null: known.length < values.length,
              contains_nan: false,
              lower_bound: known.length ? int(least(known)) : null,
              upper_bound: known.length ? int(most(known)) : null,
            };
          }),
    key_metadata: null,
  };
}

/** A snapshot's manifest list: the manifests of its parent, then its own. */
export function encodeManifestList(
  manifests: readonly ManifestFile[],
  context: { snapshotId: number; parentSnapshotId: number | bigint | undefined; sequenceNumber: number },
): Buffer {
  return containerFile(manifestFileSchema, manifests, {
    'snapshot-id': String(context.snapshotId),
    'parent-snapshot-id': context.parentSnapshotId === undefined ? 'null' : String(context.parentSnapshotId),
    'sequence-number': String(context.sequenceNumber),
    'format-version': '2',
  });
}

/** The records of an Avro container file (a manifest list or a manifest), longs as bigint. */
export async function decodeAvroFile<T>(bytes: Uint8Array): Promise<T[]> {
  const decoder = new avro.streams.BlockDecoder({
    parseHook: (schema) => avro.Type.forSchema(schema as avro.Schema, { registry: registry() }),
  });
  const records: T[] = [];
  decoder.on('data', (record: T) => records.push(record));
  const done = new Promise<void>((resolve, reject) => {
    decoder.on('end', resolve);
    decoder.on('error', reject);
  });
  Readable.from([Buffer.from(bytes)]).pipe(decoder);
  await done;
  return records;
}
