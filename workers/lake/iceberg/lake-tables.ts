import { randomUUID } from 'node:crypto';
import { KooError } from '../../../shared/errors/koo-error.ts';
import type { Column } from '../columns.ts';
import type { LakeStore } from '../lake-store.ts';
import {
  decodeManifestList,
  encodeManifest,
  encodeManifestList,
  manifestFileOf,
  type DataFile,
} from './manifests.ts';
import { tableNameOf, type SqlCatalog, type TableName } from './sql-catalog.ts';
import {
  addedThrough,
  currentSnapshot,
  hourPartitionField,
  newSnapshotId,
  newTableMetadata,
  parseMetadata,
  schemaHolding,
  serializeMetadata,
  withAppend,
  type TableMetadata,
} from './table-metadata.ts';

/** What a topic's table is made of when it is first created. */
export interface TableDefinition {
  columns: readonly Column[];
  /** The event-time column whose hour partitions the table (hidden partitioning). */
  hourColumn: string | undefined;
}

/** A segment's files, added to its topic's table in one commit. */
export interface SegmentFiles {
  topic: string;
  partition: number;
  /** The offset after the segment's last record: the table holds the partition up to here once added. */
  nextOffset: bigint;
  /** The columns of the files (a CDC topic's files may carry columns its table does not have yet). */
  columns: readonly Column[];
  files: { key: string; records: number; bytes: number; eventHourMs: number }[];
}

const MAX_CONFLICTS = 20;
const HOUR_MS = 3_600_000;

/**
 * The lake's topics as Iceberg tables: each committed segment's files are appended to its topic's
 * table in one snapshot. The snapshot's summary records, per Kafka partition, the offset the table
 * holds it through, read and written in the same compare-and-swap: a segment the table already
 * holds (a replay, a crash before the Kafka commit, a member that lost the partition and kept
 * running) adds nothing, so every file is added exactly once. Files stay where the lake writes
 * them; metadata goes under `<prefix>_iceberg/<topic>/metadata/`.
 */
export class LakeTables {
  private readonly store: LakeStore;
  private readonly catalog: SqlCatalog;
  private readonly prefix: string;
  private readonly definitions: Map<string, TableDefinition>;
  private readonly now: () => number;

  constructor(
    parts: {
      store: LakeStore;
      catalog: SqlCatalog;
      prefix: string;
      definitions: Map<string, TableDefinition>;
    },
    now: () => number = Date.now,
  ) {
    this.store = parts.store;
    this.catalog = parts.catalog;
    this.prefix = parts.prefix;
    this.definitions = parts.definitions;
    this.now = now;
  }

  /** Appends the segment's files; resolves 'held' when the table already holds the segment. */
  async append(segment: SegmentFiles): Promise<'added' | 'held'> {
    const table = tableNameOf(segment.topic);
    for (let conflict = 0; conflict < MAX_CONFLICTS; conflict++) {
      const location = await this.catalog.metadataLocation(table);
      if (location === undefined) {
        await this.create(segment.topic, table);
        continue;
      }
      const metadata = parseMetadata(Buffer.from(await this.store.get(this.key(location))).toString('utf8'));
      if (addedThrough(metadata, segment.partition) >= segment.nextOffset) return 'held';
      const next = await this.appendSnapshot(metadata, location, segment);
      if (await this.catalog.swap(table, location, next)) return 'added';
    }
    throw new KooError(
      'SINK_UNAVAILABLE',
      `iceberg: ${segment.topic} changed under ${MAX_CONFLICTS} commits in a row`,
      { retriable: true },
    );
  }

  private async create(topic: string, table: TableName): Promise<void> {
    const definition = this.definitions.get(topic);
    if (!definition) throw new KooError('INTERNAL', `iceberg: no table definition for ${topic}`);
    const location = this.url(`${this.prefix}_iceberg/${topic}`);
    const metadata = newTableMetadata(location, definition.columns, definition.hourColumn, this.now());
    const file = `${location}/metadata/00000-${randomUUID()}.metadata.json`;
    await this.putNew(file, serializeMetadata(metadata));
    await this.catalog.create(table, file); // false: another writer created it first; theirs is used
  }

  /** Writes the manifest, manifest list and metadata of an append; returns the metadata file. */
  private async appendSnapshot(
    metadata: TableMetadata,
    location: string,
    segment: SegmentFiles,
  ): Promise<string> {
    const snapshotId = newSnapshotId();
    const sequenceNumber = metadata['last-sequence-number'] + 1;
    const schema = schemaHolding(metadata, segment.columns);
    const hourField = hourPartitionField(metadata);
    const partitionFields = hourField ? [hourField] : [];
    const files: DataFile[] = segment.files.map((f) => ({
      path: this.url(f.key),
      records: f.records,
      bytes: f.bytes,
      hour: hourField ? Math.floor(f.eventHourMs / HOUR_MS) : undefined,
    }));
    const dir = `${metadata.location}/metadata`;
    const commitId = randomUUID();
    const manifestPath = `${dir}/${commitId}-m0.avro`;
    const manifest = encodeManifest(files, { snapshotId, schema, partitionFields });
    await this.putNew(manifestPath, manifest);
    const parent = currentSnapshot(metadata);
    const inherited = parent
      ? await decodeManifestList(await this.store.get(this.key(parent['manifest-list'])))
      : [];
    const listPath = `${dir}/snap-${snapshotId}-0-${commitId}.avro`;
    const list = encodeManifestList(
      [
        ...inherited,
        manifestFileOf({ path: manifestPath, length: manifest.length }, files, {
          snapshotId,
          sequenceNumber,
          partitioned: hourField !== undefined,
        }),
      ],
      { snapshotId, parentSnapshotId: parent?.['snapshot-id'], sequenceNumber },
    );
    await this.putNew(listPath, list);
    const next = withAppend(metadata, {
      snapshotId,
      manifestList: listPath,
      schema,
      nextOffsets: new Map([[segment.partition, segment.nextOffset]]),
      added: {
        files: files.length,
        records: files.reduce((n, f) => n + f.records, 0),
        bytes: files.reduce((n, f) => n + f.bytes, 0),
      },
      nowMs: this.now(),
      previousLocation: location,
    });
    const file = `${dir}/${String(sequenceNumber).padStart(5, '0')}-${commitId}.metadata.json`;
    await this.putNew(file, serializeMetadata(next));
    return file;
  }

  /** Writes a file no one has written (every name holds a fresh UUID). */
  private async putNew(url: string, body: string | Uint8Array): Promise<void> {
    const json = typeof body === 'string';
    const written = await this.store.put(this.key(url), json ? Buffer.from(body) : body, {
      condition: { ifNoneMatch: '*' },
      contentType: json ? 'application/json' : 'application/avro',
    });
    if (!written) throw new KooError('INTERNAL', `iceberg: ${url} exists already`);
  }

  private url(key: string): string {
    return `s3://${this.store.bucket}/${key}`;
  }

  private key(url: string): string {
    const prefix = `s3://${this.store.bucket}/`;
    if (!url.startsWith(prefix)) throw new KooError('INTERNAL', `iceberg: ${url} is not in ${prefix}`);
    return url.slice(prefix.length);
  }
}
