import { randomUUID } from 'node:crypto';
import { KooError } from '../../../shared/errors/koo-error.ts';
import type { Column } from '../columns.ts';
import type { LakeStore } from '../lake-store.ts';
import {
  addedEntry,
  decodeAvroFile,
  DELETED,
  encodeManifest,
  encodeManifestList,
  EXISTING,
  manifestFileOf,
  type DataFile,
  type ManifestEntry,
  type ManifestFile,
} from './manifests.ts';
import { tableNameOf, type SqlCatalog, type TableName } from './sql-catalog.ts';
import {
  addedThrough,
  currentSchema,
  currentSnapshot,
  hourPartitionField,
  newSnapshotId,
  newTableMetadata,
  parseMetadata,
  schemaHolding,
  serializeMetadata,
  withSnapshot,
  type FileTotals,
  type IcebergSchema,
  type PartitionField,
  type Snapshot,
  type SnapshotCommit,
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

/** A compaction's swap: the merged object in, the objects it covers out. */
export interface Rewrite {
  deleted: readonly string[];
  added: SegmentFiles['files'][number];
}

const MAX_CONFLICTS = 20;
const HOUR_MS = 3_600_000;

/** What a commit builds on: the table's current metadata and where it is stored. */
interface Base {
  metadata: TableMetadata;
  location: string;
}

/** A snapshot's manifests, before they are written. */
interface SnapshotPlan {
  operation: SnapshotCommit['operation'];
  /** Manifests carried from the parent unchanged. */
  kept: ManifestFile[];
  /** Entries of the manifests this snapshot writes (each list one manifest). */
  written: ManifestEntry[][];
  schema: IcebergSchema;
  nextOffsets: ReadonlyMap<number, bigint>;
  added: FileTotals;
  deleted: FileTotals;
}

/**
 * The lake's topics as Iceberg tables. Each committed segment's files are appended to its topic's
 * table in one snapshot whose summary records, per Kafka partition, the offset the table holds it
 * through; the check and the commit are one compare-and-swap of the catalog's pointer, so a
 * segment the table already holds (a replay, a crash before the Kafka commit, a member that lost
 * the partition and kept running) adds nothing, and every file is added exactly once. A
 * compaction swaps its merged object for the objects it covers in one `replace` snapshot. Files
 * stay where the lake writes them; metadata goes under `<prefix>_iceberg/<topic>/metadata/`.
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
  append(segment: SegmentFiles): Promise<'committed' | 'held'> {
    return this.commit(segment.topic, async ({ metadata }) => {
      if (addedThrough(metadata, segment.partition) >= segment.nextOffset) return undefined;
      const parent = currentSnapshot(metadata);
      const snapshotId = newSnapshotId();
      const entries = segment.files.map((f) =>
        addedEntry(this.dataFile(metadata, f), snapshotId, partitionFields(metadata)),
      );
      return {
        snapshotId,
        plan: {
          operation: 'append',
          kept: parent ? await this.manifestList(parent) : [],
          written: [entries],
          schema: schemaHolding(metadata, segment.columns),
          nextOffsets: new Map([[segment.partition, segment.nextOffset]]),
          added: totals(entries),
          deleted: totals([]),
        },
      };
    });
  }

  /**
   * Swaps a compaction's merged object in for the objects it covers; resolves 'held' when the
   * table holds the merged object and none of the others (a re-run), or has no such table.
   */
  replace(topic: string, rewrite: Rewrite): Promise<'committed' | 'held'> {
    return this.commit(topic, async ({ metadata }) => {
      const parent = currentSnapshot(metadata);
      if (!parent) return undefined;
      const gone = new Set(rewrite.deleted.map((k) => this.url(k)));
      const addedPath = this.url(rewrite.added.key);
      const snapshotId = newSnapshotId();
      const kept: ManifestFile[] = [];
      const written: ManifestEntry[][] = [];
      const deletedEntries: ManifestEntry[] = [];
      let holdsAdded = false;
      for (const manifest of await this.manifestList(parent)) {
        const entries = await this.liveEntries(manifest);
        holdsAdded ||= entries.some((e) => e.data_file.file_path === addedPath);
        if (!entries.some((e) => gone.has(e.data_file.file_path))) {
          kept.push(manifest);
          continue;
        }
        // Rewritten: the entries that stay become EXISTING, the covered ones DELETED; both keep
        // the sequence numbers they had (spec: an entry's data sequence number never changes).
        written.push(
          entries.map((e) => {
            const covered = gone.has(e.data_file.file_path);
            if (covered) deletedEntries.push(e);
            return {
              ...e,
              status: covered ? DELETED : EXISTING,
              snapshot_id: covered ? snapshotId : e.snapshot_id,
            };
          }),
        );
      }
      if (holdsAdded && deletedEntries.length === 0) return undefined;
      const addedEntries = holdsAdded
        ? []
        : [addedEntry(this.dataFile(metadata, rewrite.added), snapshotId, partitionFields(metadata))];
      if (addedEntries.length > 0) written.push(addedEntries);
      return {
        snapshotId,
        plan: {
          operation: 'replace',
          kept,
          written,
          schema: currentSchema(metadata),
          nextOffsets: new Map(),
          added: totals(addedEntries),
          deleted: totals(deletedEntries),
        },
      };
    });
  }

  async close(): Promise<void> {
    await this.catalog.close();
  }

  /**
   * The commit loop every change goes through: read the table's current metadata, build on it,
   * swap the catalog's pointer from it to the result; another writer's commit in between makes it
   * start over from theirs. `build` returns undefined when the table already holds the change.
   */
  private async commit(
    topic: string,
    build: (base: Base) => Promise<{ snapshotId: number; plan: SnapshotPlan } | undefined>,
  ): Promise<'committed' | 'held'> {
    const table = tableNameOf(topic);
    for (let conflict = 0; conflict < MAX_CONFLICTS; conflict++) {
      const location = await this.catalog.metadataLocation(table);
      if (location === undefined) {
        await this.create(topic, table);
        continue;
      }
      const metadata = parseMetadata(Buffer.from(await this.store.get(this.key(location))).toString('utf8'));
      const change = await build({ metadata, location });
      if (!change) return 'held';
      const next = await this.writeSnapshot({ metadata, location }, change.snapshotId, change.plan);
      if (await this.catalog.swap(table, location, next)) return 'committed';
    }
    throw new KooError(
      'SINK_UNAVAILABLE',
      `iceberg: ${topic} changed under ${MAX_CONFLICTS} commits in a row`,
      {
        retriable: true,
      },
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

  /** Writes the snapshot's manifests, manifest list and metadata; returns the metadata file. */
  private async writeSnapshot(base: Base, snapshotId: number, plan: SnapshotPlan): Promise<string> {
    const { metadata } = base;
    const sequenceNumber = metadata['last-sequence-number'] + 1;
    const dir = `${metadata.location}/metadata`;
    const commitId = randomUUID();
    const manifests = [...plan.kept];
    for (const [i, entries] of plan.written.entries()) {
      const path = `${dir}/${commitId}-m${i}.avro`;
      const bytes = encodeManifest(entries, {
        schema: plan.schema,
        partitionFields: partitionFields(metadata),
      });
      await this.putNew(path, bytes);
      manifests.push(
        manifestFileOf({ path, length: bytes.length }, entries, {
          snapshotId,
          sequenceNumber,
          partitionFields: partitionFields(metadata),
        }),
      );
    }
    const parent = currentSnapshot(metadata);
    const listPath = `${dir}/snap-${snapshotId}-0-${commitId}.avro`;
    await this.putNew(
      listPath,
      encodeManifestList(manifests, {
        snapshotId,
        parentSnapshotId: parent?.['snapshot-id'],
        sequenceNumber,
      }),
    );
    const next = withSnapshot(metadata, {
      ...plan,
      snapshotId,
      sequenceNumber,
      manifestList: listPath,
      nowMs: this.now(),
      previousLocation: base.location,
    });
    const file = `${dir}/${String(sequenceNumber).padStart(5, '0')}-${commitId}.metadata.json`;
    await this.putNew(file, serializeMetadata(next));
    return file;
  }

  private manifestList(snapshot: Snapshot): Promise<ManifestFile[]> {
    return this.store.get(this.key(snapshot['manifest-list'])).then((b) => decodeAvroFile<ManifestFile>(b));
  }

  /** A manifest's entries that are in the table (not DELETED), with inherited sequence numbers made explicit. */
  private async liveEntries(manifest: ManifestFile): Promise<ManifestEntry[]> {
    const entries = await decodeAvroFile<ManifestEntry>(
      await this.store.get(this.key(manifest.manifest_path)),
    );
    return entries
      .filter((e) => e.status !== DELETED)
      .map((e) => ({
        ...e,
        snapshot_id: e.snapshot_id ?? manifest.added_snapshot_id,
        sequence_number: e.sequence_number ?? manifest.sequence_number,
        file_sequence_number: e.file_sequence_number ?? manifest.sequence_number,
      }));
  }

  private dataFile(metadata: TableMetadata, file: SegmentFiles['files'][number]): DataFile {
    return {
      path: this.url(file.key),
      records: file.records,
      bytes: file.bytes,
      hour: hourPartitionField(metadata) ? Math.floor(file.eventHourMs / HOUR_MS) : undefined,
    };
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

function partitionFields(metadata: TableMetadata): PartitionField[] {
  const field = hourPartitionField(metadata);
  return field ? [field] : [];
}

function totals(entries: readonly ManifestEntry[]): FileTotals {
  return {
    files: entries.length,
    records: entries.reduce((n, e) => n + Number(e.data_file.record_count), 0),
    bytes: entries.reduce((n, e) => n + Number(e.data_file.file_size_in_bytes), 0),
  };
}
