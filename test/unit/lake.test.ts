import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { topicNames } from '../../schemas/topics.ts';
import { reactionContract } from '../../schemas/reaction.ts';
import { frame } from '../../shared/avro/wire-format.ts';
import { columnsFromAvro, withAddedColumns } from '../../workers/lake/columns.ts';
import { compactionCandidates, mergeByOffset, mergedColumns } from '../../workers/lake/compaction.ts';
import { encodeParquet } from '../../workers/lake/parquet-encoder.ts';
import { decodeParquet } from '../../workers/lake/parquet-reader.ts';
import { summarizeHours, type ListedObject } from '../../workers/lake/lake-listing.ts';
import { objectKey, parseObjectKey } from '../../workers/lake/layout.ts';
import { cdcColumns, cdcRecord, lakeColumns } from '../../workers/lake/lake-rows.ts';
import type { LakeStore } from '../../workers/lake/lake-store.ts';
import { LakeWorker, loadLakeConfig } from '../../workers/lake/lake-worker.ts';
import { holderKey, planPut, type Holder } from '../../workers/lake/lake-writes.ts';
import { Segment, hourOf, type LakeRecord } from '../../workers/lake/segment.ts';
import { envelope, kooRow, rawRecord } from '../support/cdc-events.ts';

const limits = { rows: 100, bytes: 1000, ageMs: 60_000 };
const rec = (offset: number, over: Partial<LakeRecord> = {}): LakeRecord => ({
  offset: BigInt(offset),
  eventTimeMs: Date.UTC(2026, 10, 27, 8, 30),
  kafkaTimestampMs: 1_000_000,
  bytes: 10,
  row: { o: offset },
  ...over,
});

describe('segment rotation', () => {
  it('cuts at multiples of the row limit, whatever offset the segment started at', () => {
    expect(new Segment(rec(150), 0).cutsBefore(rec(199), limits)).toBe(false);
    expect(new Segment(rec(150), 0).cutsBefore(rec(200), limits)).toBe(true);
    expect(new Segment(rec(0), 0).cutsBefore(rec(99), limits)).toBe(false);
  });

  it('cuts by Kafka bytes and by record-time age, not by the clock', () => {
    const s = new Segment(rec(0, { bytes: 900 }), 0);
    expect(s.cutsBefore(rec(1, { bytes: 100 }), limits)).toBe(false);
    expect(s.cutsBefore(rec(1, { bytes: 101 }), limits)).toBe(true);
    expect(s.cutsBefore(rec(1, { kafkaTimestampMs: 1_060_000 }), limits)).toBe(true);
  });

  it('splits rows by event hour; each file is named by its own first offset', () => {
    const s = new Segment(rec(10), 0);
    s.add(rec(11, { eventTimeMs: Date.UTC(2026, 10, 27, 9) }));
    s.add(rec(12)); // late: back to 08
    expect(s.hourFiles().map((f) => [f.dt, f.hr, f.firstOffset, f.rows.length])).toEqual([
      ['2026-11-27', '08', 10n, 2],
      ['2026-11-27', '09', 11n, 1],
    ]);
    expect(s.nextOffset).toBe(13n);
    expect(hourOf(Date.UTC(2026, 0, 1, 23, 59))).toEqual({ dt: '2026-01-01', hr: '23' });
  });
});

describe('lake layout', () => {
  it('names objects by topic, event hour, partition and first offset, and reads the names back', () => {
    const key = objectKey('p/', 'koo.public.koos', 3, { dt: '2026-11-27', hr: '08', firstOffset: 42n });
    expect(key).toBe('p/koo.public.koos/dt=2026-11-27/hr=08/koo.public.koos+3+42.parquet');
    expect(parseObjectKey('p/', key)).toEqual({
      topic: 'koo.public.koos',
      dt: '2026-11-27',
      hr: '08',
      partition: 3,
      firstOffset: 42n,
    });
    expect(parseObjectKey('p/', 'p/koo.public.koos/dt=2026-11-27/hr=08/other+3+42.parquet')).toBeUndefined();
    expect(parseObjectKey('q/', key)).toBeUndefined();
  });
});

describe('lake columns', () => {
  it('derives CDC columns from the zod row schema (with its distinct marks), then the change and position columns', () => {
    expect(cdcColumns('koos')).toEqual([
      { name: 'content_id', type: 'string', nullable: false, distinct: true },
      { name: 'creator_id', type: 'string', nullable: false },
      { name: 'parent_id', type: 'string', nullable: true },
      { name: 'lang', type: 'string', nullable: false },
      { name: 'body', type: 'string', nullable: false, distinct: true },
      { name: 'media_url', type: 'string', nullable: true, distinct: true },
      { name: 'created_at', type: 'timestamp', nullable: false },
      { name: 'updated_at', type: 'timestamp', nullable: false },
      { name: '_op', type: 'string', nullable: false },
      { name: '_lsn', type: 'int64', nullable: false },
      { name: '_tx_id', type: 'int64', nullable: true },
      { name: '_changed_at', type: 'timestamp', nullable: false },
      { name: '_kafka_partition', type: 'int32', nullable: false },
      { name: '_kafka_offset', type: 'int64', nullable: false },
    ]);
  });

  it('derives the reaction columns from schemas/reaction.avsc', () => {
    expect(lakeColumns(topicNames.reactions).map((c) => `${c.name}:${c.type}`)).toEqual([
      'event_id:string',
      'type:string',
      'content_id:string',
      'user_id:string',
      'event_time:timestamp',
      '_kafka_partition:int32',
      '_kafka_offset:int64',
    ]);
    expect(() => lakeColumns('koo.unknown')).toThrow(/no schema for topic koo.unknown/);
    expect(() => loadLakeConfig({ LAKE_TOPICS: 'koo.public.koos,koo.unknown' })).toThrow(
      /LAKE_TOPICS.*no schema for topic koo.unknown/,
    );
  });

  it('takes an SQL catalog (postgres://) or a Glue database (glue://) for the Iceberg tables, and names anything else', () => {
    expect(loadLakeConfig({ LAKE_CATALOG_URL: 'glue://koo_lake' }).LAKE_CATALOG_URL).toBe('glue://koo_lake');
    expect(loadLakeConfig({ LAKE_CATALOG_URL: '' }).LAKE_CATALOG_URL).toBeUndefined();
    expect(() => loadLakeConfig({ LAKE_CATALOG_URL: 'mysql://db/catalog' })).toThrow(
      /LAKE_CATALOG_URL \("mysql:\/\/db\/catalog"\): must be postgres:\/\/\.\.\. \(an Iceberg SQL catalog\) or glue:\/\/<database>/,
    );
  });

  it('derives Avro columns: logical timestamps, enums as strings, optional unions nullable', () => {
    const schema = {
      fields: [
        { name: 'event_id', type: 'string' },
        { name: 'type', type: { type: 'enum', name: 'T', symbols: ['like', 'unlike'] } },
        { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
        { name: 'weight', type: ['null', 'int'] },
      ],
    };
    expect(columnsFromAvro(schema as never)).toEqual([
      { name: 'event_id', type: 'string', nullable: false },
      { name: 'type', type: 'string', nullable: false },
      { name: 'at', type: 'timestamp', nullable: false },
      { name: 'weight', type: 'int32', nullable: true },
    ]);
    const micros = { fields: [{ name: 'at', type: { type: 'long', logicalType: 'timestamp-micros' } }] };
    expect(() => columnsFromAvro(micros as never)).toThrow(/timestamp-micros/);
  });
});

describe('lake decoding', () => {
  it('flattens a change to the row plus op, LSN, change time and position; tombstones are skipped', () => {
    const raw = rawRecord(topicNames.koos, envelope('koos', 'c', null, kooRow('k1'), 77), 5);
    expect(cdcRecord(raw, 'koos')).toMatchObject({
      offset: 5n,
      eventTimeMs: 1_764_000_000_000,
      row: {
        content_id: 'k1',
        created_at: Date.parse('2026-11-27T08:00:00Z'),
        _op: 'c',
        _lsn: 77,
        _kafka_offset: '5',
        _kafka_partition: 0,
      },
    });
    expect(cdcRecord(rawRecord(topicNames.koos, null), 'koos')).toBeNull();
    expect(() => cdcRecord(rawRecord(topicNames.koos, '{'), 'koos')).toThrow(/not JSON/);
  });

  it('keeps a column the source table gained after its schema here: typed from its values, nullable, kept by compaction', () => {
    const rows = [
      kooRow('k1'),
      kooRow('k2', { mood: 'happy', reach: 42, meta: { a: 1 } }),
      kooRow('k3', { mood: null, reach: 7, meta: null }),
    ].map(
      (row, i) => cdcRecord(rawRecord(topicNames.koos, envelope('koos', 'c', null, row, 77), i), 'koos')!.row,
    );
    expect(rows[1]).toMatchObject({ mood: 'happy', reach: 42 });
    const columns = withAddedColumns(cdcColumns('koos'), rows);
    expect(columns.slice(cdcColumns('koos').length)).toEqual([
      { name: 'mood', type: 'string', nullable: true },
      { name: 'reach', type: 'int64', nullable: true },
      { name: 'meta', type: 'string', nullable: true },
    ]);
    const file = decodeParquet(encodeParquet(columns, rows));
    expect(file.rows.map((r) => [r.content_id, r.mood, r.reach, r.meta])).toEqual([
      ['k1', null, null, null],
      ['k2', 'happy', 42n, '{"a":1}'],
      ['k3', null, 7n, null],
    ]);
    // Compaction of an older object (without them) and this one keeps them, as this one typed them.
    const older = decodeParquet(encodeParquet(cdcColumns('koos'), rows.slice(0, 1)));
    const merged = mergedColumns(cdcColumns('koos'), [older.columns, file.columns]);
    expect(merged.slice(cdcColumns('koos').length).map((c) => [c.name, c.type, c.nullable])).toEqual([
      ['mood', 'string', true],
      ['reach', 'int64', true],
      ['meta', 'string', true],
    ]);
    expect(merged.find((c) => c.name === 'content_id')!.nullable).toBe(false);
  });

  it("reads an older object's position columns (_partition, _offset) under today's names", () => {
    const row = cdcRecord(
      rawRecord(topicNames.koos, envelope('koos', 'c', null, kooRow('k1'), 77), 5),
      'koos',
    )!.row;
    const { _kafka_partition, _kafka_offset, ...rest } = row;
    const older = [...cdcColumns('koos')].map((c) => ({
      ...c,
      name: c.name.replace(/^_kafka_(partition|offset)$/, '_$1'),
    }));
    const file = decodeParquet(
      encodeParquet(older, [{ ...rest, _partition: _kafka_partition, _offset: _kafka_offset }]),
    );
    expect(file.columns).toEqual(cdcColumns('koos').map((c) => ({ ...c, distinct: undefined })));
    expect(file.rows[0]).toMatchObject({ content_id: 'k1', _kafka_partition: 0, _kafka_offset: 5n });
    expect(mergedColumns(cdcColumns('koos'), [file.columns]).map((c) => c.name)).toEqual(
      cdcColumns('koos').map((c) => c.name),
    );
  });

  it('reads reactions through the shared registry codec, at their event time', async () => {
    const registry = { getSchema: async () => reactionContract.type } as unknown as SchemaRegistry;
    const worker = new LakeWorker({
      store: { destroy: () => undefined } as LakeStore,
      registry,
      config: loadLakeConfig({}),
    });
    try {
      const reaction = {
        event_id: 'e1',
        type: 'like',
        content_id: 'k1',
        user_id: 'u1',
        event_time: Date.UTC(2026, 10, 27, 9, 15),
      };
      const raw = {
        ...rawRecord(topicNames.reactions, null, 9),
        value: frame(7, reactionContract.type.toBuffer(reaction)),
      };
      await worker.prepare([raw]);
      expect(worker.decode(raw)).toMatchObject({
        offset: 9n,
        eventTimeMs: reaction.event_time,
        row: { ...reaction, _kafka_partition: 0, _kafka_offset: '9' },
      });
      expect(worker.decode(rawRecord(topicNames.reactions, null))).toBeNull();
      expect(() => worker.decode(rawRecord(topicNames.reactions, '{}'))).toThrow(/wire format/);
    } finally {
      await worker.close();
    }
  });
});

const key = (partition: number, first: number, hr = '08') =>
  objectKey('', 't.public.koos', partition, { dt: '2026-11-27', hr, firstOffset: BigInt(first) });

describe('lake writes never shrink an object', () => {
  const file = { key: key(0, 100), firstOffset: 100n, lastOffset: 150n };
  const holder = (first: number, last: number | undefined): Holder => ({
    key: key(0, first),
    firstOffset: BigInt(first),
    lastOffset: last === undefined ? undefined : BigInt(last),
    etag: '"e"',
  });

  it('creates a file that is not there, only if it still is not', () => {
    expect(planPut(file, undefined)).toEqual({ write: true, condition: { ifNoneMatch: '*' } });
    expect(planPut(file, holder(40, 99))).toEqual({ write: true, condition: { ifNoneMatch: '*' } });
  });

  it('replaces the same file with more rows, only if it is unchanged; leaves it when it holds the same rows', () => {
    expect(planPut(file, holder(100, 120))).toEqual({ write: true, condition: { ifMatch: '"e"' } });
    expect(planPut(file, holder(100, undefined))).toEqual({ write: true, condition: { ifMatch: '"e"' } });
    // A replay: the object may be in an Iceberg table, with its size.
    expect(planPut(file, holder(100, 150))).toEqual({ write: false, heldBy: key(0, 100) });
  });

  it('leaves an object that holds more: a newer owner, or compaction', () => {
    // A stale early upload (rows 100..150) after the new owner wrote rows 100..180.
    expect(planPut(file, holder(100, 180))).toEqual({ write: false, heldBy: key(0, 100) });
    // A replay of a file that compaction merged into the object starting at 40.
    expect(planPut(file, holder(40, 400))).toEqual({ write: false, heldBy: key(0, 40) });
  });

  it('finds the holder: the object of the partition-hour starting last at or before the file', () => {
    const keys = [key(0, 40), key(0, 100), key(0, 7), key(0, 160)];
    expect(holderKey('', keys, 100n)).toEqual({ key: key(0, 100), firstOffset: 100n });
    expect(holderKey('', keys, 120n)).toEqual({ key: key(0, 100), firstOffset: 100n });
    expect(holderKey('', keys, 5n)).toBeUndefined();
  });
});

describe('lake compaction', () => {
  const object = (partition: number, first: number) => ({
    key: key(partition, first),
    size: 1,
    etag: 'e',
    modifiedMs: 0,
  });

  it('takes per partition the objects that start below the committed offset, in offset order', () => {
    const objects = [object(0, 30), object(0, 4), object(0, 90), object(1, 5), object(2, 0)];
    const committed = new Map([
      [0, 90n],
      [1, 5n],
    ]);
    const groups = compactionCandidates('', objects, committed);
    expect([...groups.keys()]).toEqual([0]); // partition 1: nothing below 5; partition 2: never committed
    expect(groups.get(0)!.map((o) => o.key)).toEqual([key(0, 4), key(0, 30)]);
  });

  it('merges rows by offset, each once, whatever objects overlap', () => {
    const row = (offset: number) => ({ _kafka_offset: BigInt(offset), v: offset });
    const merged = mergeByOffset([[row(4), row(9)], [row(5)], [row(4), row(5), row(9)]]);
    expect(merged.map((r) => r.v)).toEqual([4, 5, 9]);
  });

  it('lists hours with their objects, rows, and objects another one already holds', () => {
    const listed = (partition: number, first: number, last: number, hr = '08'): ListedObject => ({
      key: key(partition, first, hr),
      topic: 't.public.koos',
      dt: '2026-11-27',
      hr,
      partition,
      firstOffset: BigInt(first),
      lastOffset: BigInt(last),
      bytes: 10,
      rows: last - first + 1,
    });
    // Partition 0 was merged into 0..20, and 8..12 was not deleted yet.
    const summary = summarizeHours([
      listed(0, 0, 20),
      listed(0, 8, 12),
      listed(1, 3, 4),
      listed(0, 30, 31, '09'),
    ]);
    expect(summary).toEqual([
      {
        topic: 't.public.koos',
        dt: '2026-11-27',
        hr: '08',
        partitions: 2,
        objects: 3,
        rows: 28,
        bytes: 30,
        overlapping: 1,
      },
      {
        topic: 't.public.koos',
        dt: '2026-11-27',
        hr: '09',
        partitions: 1,
        objects: 1,
        rows: 2,
        bytes: 10,
        overlapping: 0,
      },
    ]);
  });
});
