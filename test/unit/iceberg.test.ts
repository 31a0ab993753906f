import { describe, expect, it } from 'vitest';
import type { Column } from '../../workers/lake/columns.ts';
import {
  addedEntry,
  decodeAvroFile,
  encodeManifest,
  encodeManifestList,
  manifestFileOf,
  type ManifestEntry,
  type ManifestFile,
} from '../../workers/lake/iceberg/manifests.ts';
import { columnMetrics, truncatedUpper } from '../../workers/lake/iceberg/column-metrics.ts';
import { GlueCatalog } from '../../workers/lake/iceberg/glue-catalog.ts';
import { SqlCatalog } from '../../workers/lake/iceberg/sql-catalog.ts';
import {
  addedThrough,
  currentSchema,
  hourPartitionField,
  NAME_MAPPING,
  newTableMetadata,
  parseMetadata,
  schemaHolding,
  serializeMetadata,
  succeeding,
  withoutSnapshotsBefore,
  withSnapshot,
  type SnapshotCommit,
  type TableMetadata,
} from '../../workers/lake/iceberg/table-metadata.ts';

const columns: Column[] = [
  { name: 'event_id', type: 'string', nullable: false },
  { name: 'event_time', type: 'timestamp', nullable: false },
  { name: 'weight', type: 'int32', nullable: true },
  { name: '_kafka_offset', type: 'int64', nullable: false },
];
const table = () => newTableMetadata('s3://lake/_iceberg/koo.reactions', columns, 'event_time', 1_000);
const none = { files: 0, records: 0, bytes: 0 };

function append(
  metadata: TableMetadata,
  id: number,
  offsets: [number, bigint][],
  records: number,
): TableMetadata {
  const commit: SnapshotCommit = {
    operation: 'append',
    snapshotId: id,
    sequenceNumber: metadata['last-sequence-number'] + 1,
    manifestList: `s3://lake/snap-${id}.avro`,
    schema: currentSchema(metadata),
    nextOffsets: new Map(offsets),
    added: { files: 1, records, bytes: 100 },
    deleted: none,
    nowMs: 2_000 + id,
  };
  return succeeding(withSnapshot(metadata, commit), { location: `s3://lake/${id}.metadata.json`, metadata });
}

describe('Iceberg table metadata', () => {
  it('types columns, partitions by the hour of the event time, and maps names to field ids', () => {
    const m = table();
    expect(currentSchema(m).fields).toEqual([
      { id: 1, name: 'event_id', type: 'string', required: true },
      { id: 2, name: 'event_time', type: 'timestamp', required: true },
      { id: 3, name: 'weight', type: 'int', required: false },
      { id: 4, name: '_kafka_offset', type: 'long', required: true },
    ]);
    expect(hourPartitionField(m)).toEqual({
      'source-id': 2,
      'field-id': 1000,
      transform: 'hour',
      name: 'event_time_hour',
    });
    expect(JSON.parse(m.properties[NAME_MAPPING]!)).toContainEqual({ 'field-id': 3, names: ['weight'] });
    expect(hourPartitionField(newTableMetadata('s3://x', columns, undefined, 0))).toBeUndefined();
  });

  it('records per Kafka partition how far the table holds it, carried through every snapshot', () => {
    let m = table();
    expect(addedThrough(m, 0)).toBe(0n);
    m = append(m, 1, [[0, 100n]], 100);
    m = append(m, 2, [[1, 40n]], 40);
    expect(addedThrough(m, 0)).toBe(100n);
    expect(addedThrough(m, 1)).toBe(40n);
    expect(m.snapshots.at(-1)).toMatchObject({
      'parent-snapshot-id': 1,
      'sequence-number': 2,
      summary: { operation: 'append', 'total-records': '140', 'total-data-files': '2' },
    });
    expect(m.refs.main).toEqual({ 'snapshot-id': 2, type: 'branch' });
    expect(m['metadata-log'].map((l) => l['metadata-file'])).toEqual([
      's3://lake/1.metadata.json',
      's3://lake/2.metadata.json',
    ]);
  });

  it('expires snapshots before a time, never the current one', () => {
    let m = table();
    for (const id of [1, 2, 3]) m = append(m, id, [[0, BigInt(id * 10)]], 10); // committed at 2001, 2002, 2003
    expect(withoutSnapshotsBefore(m, 2_000, 9)).toBeUndefined();
    const expired = withoutSnapshotsBefore(m, 2_003, 9)!;
    expect(expired.snapshots.map((s) => s['snapshot-id'])).toEqual([3]);
    expect(expired['snapshot-log'].map((l) => l['snapshot-id'])).toEqual([3]);
    expect(withoutSnapshotsBefore(m, 10_000, 9)!.snapshots.map((s) => s['snapshot-id'])).toEqual([3]);
    expect(addedThrough(expired, 0)).toBe(30n);
  });

  it('adds a column the files carry as a new optional field, and keeps the schema when nothing is new', () => {
    const m = table();
    expect(schemaHolding(m, columns)).toBe(currentSchema(m));
    const wider = schemaHolding(m, [...columns, { name: 'mood', type: 'string', nullable: false }]);
    expect(wider['schema-id']).toBe(1);
    expect(wider.fields.at(-1)).toEqual({ id: 5, name: 'mood', type: 'string', required: false });
    const next = withSnapshot(m, {
      operation: 'append',
      snapshotId: 7,
      sequenceNumber: 1,
      manifestList: 's3://x',
      schema: wider,
      nextOffsets: new Map(),
      added: none,
      deleted: none,
      nowMs: 5,
    });
    expect(next['current-schema-id']).toBe(1);
    expect(next['last-column-id']).toBe(5);
    expect(JSON.parse(next.properties[NAME_MAPPING]!)).toContainEqual({ 'field-id': 5, names: ['mood'] });
  });

  it('keeps 64-bit snapshot ids exact through JSON (other engines use all 63 bits)', () => {
    const text = serializeMetadata({ ...table(), 'current-snapshot-id': 9_007_199_254_740_993n });
    expect(text).toContain('"current-snapshot-id":9007199254740993');
    expect(parseMetadata(text)['current-snapshot-id']).toBe(9_007_199_254_740_993n);
    expect(parseMetadata(text)['last-column-id']).toBe(4);
  });

  it('names the table after the topic: in a SQL catalog its last part in the namespace of the rest, in Glue one name in the database', async () => {
    const sql = new SqlCatalog('postgres://koo@127.0.0.1:1/none', 'koo'); // connects on first query only
    expect(sql.tableOf('koo.public.koos')).toEqual({ namespace: 'koo.public', name: 'koos' });
    expect(sql.tableOf('koo.reactions')).toEqual({ namespace: 'koo', name: 'reactions' });
    await sql.close();
    const glue = new GlueCatalog({
      database: 'koo_lake',
      region: 'ap-south-1',
      endpoint: 'http://127.0.0.1:1',
    });
    expect(glue.tableOf('koo.public.koos')).toEqual({ namespace: 'koo_lake', name: 'koo_public_koos' });
    expect(glue.tableOf('koo.Reactions-v2')).toEqual({ namespace: 'koo_lake', name: 'koo_reactions_v2' });
    await glue.close();
  });
});

describe("Iceberg column metrics (a data file's counts and bounds)", () => {
  const hex = (b: Buffer | undefined) => b?.toString('hex');
  it('bounds each type in the single-value binary form, over the values as the file stores them', () => {
    const columns: Column[] = [
      { name: 'n', type: 'int32', nullable: true },
      { name: 'o', type: 'int64', nullable: false },
      { name: 't', type: 'timestamp', nullable: false },
      { name: 'd', type: 'double', nullable: true },
      { name: 'b', type: 'boolean', nullable: false },
      { name: 's', type: 'string', nullable: false },
    ];
    const rows = [
      { n: 5, o: '12', t: 1_000, d: 0, b: true, s: 'é' },
      { n: null, o: 7n, t: 2_000, d: -0, b: true, s: 'z' },
      { n: -3, o: 9, t: 1_500, d: 2.5, b: true, s: { a: 1 } },
    ];
    const m = columnMetrics(columns, rows);
    expect(m.get('n')).toMatchObject({ values: 3, nulls: 1 });
    expect([hex(m.get('n')!.lower), hex(m.get('n')!.upper)]).toEqual(['fdffffff', '05000000']);
    expect([hex(m.get('o')!.lower), hex(m.get('o')!.upper)]).toEqual([
      '0700000000000000',
      '0c00000000000000',
    ]);
    // Timestamps in microseconds, as the files hold them.
    expect(m.get('t')!.upper!.readBigInt64LE()).toBe(2_000_000n);
    expect(Object.is(m.get('d')!.lower!.readDoubleLE(), -0)).toBe(true);
    expect([hex(m.get('b')!.lower), hex(m.get('b')!.upper)]).toEqual(['01', '01']);
    // Code point order (UTF-8 bytes): 'z' < '{' < 'é'; a structure as its JSON text.
    expect([m.get('s')!.lower!.toString(), m.get('s')!.upper!.toString()]).toEqual(['z', 'é']);
    expect(columnMetrics([columns[3]!], [{ d: Number.NaN }]).get('d')).toEqual({ values: 1, nulls: 0 });
    expect(columnMetrics([columns[0]!], [{ n: null }]).get('n')).toEqual({ values: 1, nulls: 1 });
  });

  it("truncates string bounds to 16 code points: the lower as a prefix, the upper's last raisable code point raised", () => {
    const id = '01JD8Z5K3W2X9Q7R6T5Y4U3I2O';
    const m = columnMetrics([{ name: 's', type: 'string', nullable: false }], [{ s: id }]).get('s')!;
    expect(m.lower!.toString()).toBe(id.slice(0, 16));
    expect(m.upper!.toString()).toBe(`${id.slice(0, 15)}${String.fromCharCode(id.charCodeAt(15) + 1)}`);
    expect(truncatedUpper('short')).toBe('short');
    expect(truncatedUpper(`${'a'.repeat(15)}\u{10FFFF}tail`)).toBe(`${'a'.repeat(14)}b`);
    expect(truncatedUpper(`${'a'.repeat(15)}\u{D7FF}tail`)).toBe(`${'a'.repeat(15)}\u{E000}`);
    expect(truncatedUpper('\u{10FFFF}'.repeat(17))).toBeUndefined();
  });
});

describe('Iceberg manifests (Avro with field ids)', () => {
  const m = table();
  const fields = [hourPartitionField(m)!];

  it('writes entries a reader gets back, with the spec field ids in the file schema', async () => {
    const metrics = new Map([[1, { values: 3, nulls: 1, lower: Buffer.from('a'), upper: Buffer.from('c') }]]);
    const file = { path: 's3://lake/a.parquet', records: 3, bytes: 900, hour: 498_920, metrics };
    const bytes = encodeManifest([addedEntry(file, 42, fields)], {
      schema: currentSchema(m),
      partitionFields: fields,
    });
    const [entry] = await decodeAvroFile<ManifestEntry>(bytes);
    expect(entry).toMatchObject({
      status: 1,
      snapshot_id: 42n,
      sequence_number: null,
      data_file: {
        file_path: file.path,
        record_count: 3n,
        file_size_in_bytes: 900n,
        partition: { event_time_hour: 498_920 },
        value_counts: [{ key: 1, value: 3n }],
        null_value_counts: [{ key: 1, value: 1n }],
        lower_bounds: [{ key: 1, value: Buffer.from('a') }],
        upper_bounds: [{ key: 1, value: Buffer.from('c') }],
      },
    });
    const header = bytes.toString('latin1');
    expect(header).toContain('"field-id":100');
    expect(header).toContain('partition-spec-id');
  });

  it('lists manifests with their counts and partition range; 63-bit ids survive a round trip', async () => {
    const entries = [
      addedEntry({ path: 's3://a', records: 2, bytes: 10, hour: 5, metrics: new Map() }, 7, fields),
      addedEntry({ path: 's3://b', records: 3, bytes: 10, hour: 9, metrics: new Map() }, 7, fields),
    ];
    const listed = manifestFileOf({ path: 's3://m', length: 55 }, entries, {
      snapshotId: 7,
      sequenceNumber: 3,
      partitionFields: fields,
    });
    expect(listed).toMatchObject({ added_files_count: 2, added_rows_count: 5, min_sequence_number: 3 });
    const foreign = { ...listed, manifest_path: 's3://old', added_snapshot_id: 9_007_199_254_740_993n };
    const bytes = encodeManifestList([foreign, listed], {
      snapshotId: 7,
      parentSnapshotId: undefined,
      sequenceNumber: 3,
    });
    const [first, second] = await decodeAvroFile<ManifestFile>(bytes);
    expect(first!.added_snapshot_id).toBe(9_007_199_254_740_993n);
    expect(second!.partitions).toEqual([
      {
        contains_null: false,
        contains_nan: false,
        lower_bound: Buffer.from([5, 0, 0, 0]),
        upper_bound: Buffer.from([9, 0, 0, 0]),
      },
    ]);
  });
});
