import { randomUUID } from 'node:crypto';
import { KooError } from '../../../shared/errors/koo-error.ts';
import { backoffDelayMs, mapConcurrent, sleep } from '../../../shared/runtime/backoff.ts';
import { runShared, stopSignal, untilStopped } from '../../../shared/runtime/process-shutdown.ts';
import type { Column } from '../columns.ts';
import type { ColumnMetrics } from './column-metrics.ts';
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
import type { IcebergCatalog, TableName } from './catalog.ts';
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
  succeeding,
  withoutSnapshotsBefore,
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
  files: SegmentFile[];
}

/** One object of the lake, as a table's data file. */
export interface SegmentFile {
  key: string;
  records: number;
  bytes: number;
  eventHourMs: number;
  /** Per column name: its counts and bounds in the object (columns the table lacks are left out). */
  metrics: ReadonlyMap<string, ColumnMetrics>;
}

/** One snapshot of a table, as `koo lake ls` lists it. */
export interface TableSnapshot {
  table: string;
  snapshot_id: string;
  committed_at: string;
  operation: string;
  added_records: number;
  total_records: number;
  total_files: number;
  current: boolean;
}

/** A compaction's swap: the merged object in, the objects it covers out. */
export interface Rewrite {
  deleted: readonly string[];
  added: SegmentFile;
}

const MAX_CONFLICTS = 20;
const CONFLICT_BACKOFF_BASE_MS = 25;
const CONFLICT_BACKOFF_CAP_MS = 1_000;
/**
 * Iceberg's defaults for merging manifests on append (commit.manifest.min-count-to-merge,
 * commit.manifest.target-size-bytes): each commit adds a manifest, and a reader opens every
 * manifest of the snapshot it reads, so from 100 small ones on they are merged into manifests up
 * to 8 MiB.
 */
const MANIFESTS_BEFORE_MERGE = 100;
const MANIFEST_TARGET_BYTES = 8 * 1024 * 1024;
const HOUR_MS = 3_600_000;

/** A topic's appends that wait for the commit in flight, and whether one is. */
interface AppendQueue {
  waiting: {
    segment: SegmentFiles;
    resolve: (outcome: 'committed' | 'held') => void;
    reject: (err: unknown) => void;
  }[];
  draining: boolean;
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
 * table in one snapshot (with the other segments cut meanwhile) whose summary records, per Kafka
 * partition, the offset the table holds it through; the check and the commit are one
 * compare-and-swap of the catalog's pointer, so a segment the table already holds (a replay, a
 * crash before the Kafka commit, a member that lost the partition and kept running) adds nothing,
 * and every file is added exactly once. A compaction swaps its merged object for the objects it
 * covers in one `replace` snapshot. Files stay where the lake writes them; metadata goes under
 * `<prefix>_iceberg/<topic>/metadata/`.
 */
export class LakeTables {
  private readonly store: LakeStore;
  private readonly catalog: IcebergCatalog;
  private readonly prefix: string;
  private readonly definitions: Map<string, TableDefinition>;
  private readonly now: () => number;
  private readonly appends = new Map<string, AppendQueue>();

  constructor(
    parts: {
      store: LakeStore;
      catalog: IcebergCatalog;
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

  /**
   * Appends the segment's files; resolves 'held' when the table already holds the segment.
   * Segments of a topic that arrive while its commit is in flight wait, and the next commit adds
   * them all in one snapshot: a member's partitions cut together cost one commit, not one each,
   * and fewer commits race the other members' for the catalog's pointer. The caller stops waiting
   * when its work is stopped (its member must rejoin a rebalance), while the commit goes on for
   * the others; it may still add this segment, which the table's offsets make harmless.
   */
  append(segment: SegmentFiles): Promise<'committed' | 'held'> {
    let queue = this.appends.get(segment.topic);
    if (!queue) this.appends.set(segment.topic, (queue = { waiting: [], draining: false }));
    const outcome = new Promise<'committed' | 'held'>((resolve, reject) =>
      queue.waiting.push({ segment, resolve, reject }),
    );
    if (!queue.draining) void runShared(() => this.drain(segment.topic, queue));
    return untilStopped(outcome, `iceberg append to ${segment.topic}`, stopSignal());
  }

  /** Commits the topic's waiting appends, all that waited at once, until none wait. */
  private async drain(topic: string, queue: AppendQueue): Promise<void> {
    queue.draining = true;
    await Promise.resolve(); // the appends of this tick go in the first commit too
    while (queue.waiting.length > 0) {
      const group = queue.waiting.splice(0);
      try {
        const added = await this.appendAll(
          topic,
          group.map((a) => a.segment),
        );
        for (const a of group) a.resolve(added.has(a.segment) ? 'committed' : 'held');
      } catch (err) {
        for (const a of group) a.reject(err);
      }
    }
    queue.draining = false;
  }

  /** Adds the segments the table does not hold yet in one snapshot; resolves those it added. */
  private async appendAll(topic: string, segments: SegmentFiles[]): Promise<Set<SegmentFiles>> {
    let adding: SegmentFiles[] = [];
    const outcome = await this.commit(topic, { create: true }, async (metadata) => {
      adding = segments.filter((s) => addedThrough(metadata, s.partition) < s.nextOffset);
      if (adding.length === 0) return undefined;
      const parent = currentSnapshot(metadata);
      const snapshotId = newSnapshotId();
      const schema = schemaHolding(
        metadata,
        adding.flatMap((s) => s.columns),
      );
      const entries = adding.flatMap((s) =>
        s.files.map((f) =>
          addedEntry(this.dataFile(metadata, schema, f), snapshotId, partitionFields(metadata)),
        ),
      );
      const nextOffsets = new Map<number, bigint>();
      for (const s of adding)
        if ((nextOffsets.get(s.partition) ?? -1n) < s.nextOffset) nextOffsets.set(s.partition, s.nextOffset);
      const { kept, merged } = await this.mergedManifests(parent ? await this.manifestList(parent) : []);
      return this.withSnapshot(metadata, snapshotId, {
        operation: 'append',
        kept,
        written: [entries, ...merged],
        schema,
        nextOffsets,
        added: totals(entries),
        deleted: totals([]),
      });
    });
    return new Set(outcome === 'committed' ? adding : []);
  }

  /**
   * Swaps a compaction's merged object in for the objects it covers; resolves 'held' when the
   * table holds the merged object and none of the others (a re-run), or there is no such table.
   */
  replace(topic: string, rewrite: Rewrite): Promise<'committed' | 'held'> {
    return this.commit(topic, { create: false }, async (metadata) => {
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
        : [
            addedEntry(
              this.dataFile(metadata, currentSchema(metadata), rewrite.added),
              snapshotId,
              partitionFields(metadata),
            ),
          ];
      if (addedEntries.length > 0) written.push(addedEntries);
      return this.withSnapshot(metadata, snapshotId, {
        operation: 'replace',
        kept,
        written,
        schema: currentSchema(metadata),
        nextOffsets: new Map(),
        added: totals(addedEntries),
        deleted: totals(deletedEntries),
      });
    });
  }

  /**
   * Expires the snapshots committed before `cutoffMs` (the current one stays), then deletes the
   * files under the table's metadata folder that no retained snapshot or logged metadata file
   * refers to: expired manifest lists and manifests, and those of commits that lost a race.
   * Files younger than `graceMs` stay: they may belong to a commit in flight. Data files are the
   * lake's: compaction deletes those it replaces. Resolves the snapshots and files removed.
   */
  async expire(
    topic: string,
    cutoffMs: number,
    graceMs: number,
  ): Promise<{ snapshots: number; files: number }> {
    let expired = 0;
    await this.commit(topic, { create: false }, async (metadata) => {
      const next = withoutSnapshotsBefore(metadata, cutoffMs, this.now());
      expired = next ? metadata.snapshots.length - next.snapshots.length : 0;
      return next;
    });
    const location = await this.catalog.metadataLocation(this.catalog.tableOf(topic));
    if (location === undefined) return { snapshots: expired, files: 0 };
    const metadata = await this.load(location);
    const referenced = new Set([location, ...metadata['metadata-log'].map((l) => l['metadata-file'])]);
    for (const snapshot of metadata.snapshots) {
      referenced.add(snapshot['manifest-list']);
      for (const manifest of await this.manifestList(snapshot)) referenced.add(manifest.manifest_path);
    }
    const orphans = (await this.store.listAll(this.key(`${metadata.location}/metadata/`))).filter(
      (o) => !referenced.has(this.url(o.key)) && o.modifiedMs < this.now() - graceMs,
    );
    await this.store.delete(orphans.map((o) => o.key));
    return { snapshots: expired, files: orphans.length };
  }

  /** The topic's table and its snapshots, oldest first; undefined when the catalog has no such table. */
  async snapshots(topic: string): Promise<TableSnapshot[] | undefined> {
    const name = this.catalog.tableOf(topic);
    const location = await this.catalog.metadataLocation(name);
    if (location === undefined) return undefined;
    const metadata = await this.load(location);
    return metadata.snapshots.map((s) => ({
      table: `${name.namespace}.${name.name}`,
      snapshot_id: String(s['snapshot-id']),
      committed_at: new Date(s['timestamp-ms']).toISOString(),
      operation: s.summary.operation,
      added_records: Number(s.summary['added-records'] ?? 0),
      total_records: Number(s.summary['total-records'] ?? 0),
      total_files: Number(s.summary['total-data-files'] ?? 0),
      current: s['snapshot-id'] === metadata['current-snapshot-id'],
    }));
  }

  async close(): Promise<void> {
    await this.catalog.close();
  }

  /**
   * The commit loop every change goes through: read the table's current metadata, change it,
   * write the result and swap the catalog's pointer from the one read to it; another writer's
   * commit in between makes it start over from theirs. `change` returns undefined when the table
   * already is as asked. A missing table is created first for `create` (an append), and is
   * otherwise as asked already (nothing to rewrite or expire).
   */
  private async commit(
    topic: string,
    options: { create: boolean },
    change: (metadata: TableMetadata) => Promise<TableMetadata | undefined>,
  ): Promise<'committed' | 'held'> {
    const table = this.catalog.tableOf(topic);
    for (let conflict = 0; conflict < MAX_CONFLICTS; conflict++) {
      const location = await this.catalog.metadataLocation(table);
      if (location === undefined) {
        if (!options.create) return 'held';
        await this.create(topic, table);
        continue;
      }
      const metadata = await this.load(location);
      const changed = await change(metadata);
      if (!changed) return 'held';
      const version = Number(/\/(\d+)-[^/]*\.metadata\.json$/.exec(location)?.[1] ?? 0) + 1;
      const file = `${metadata.location}/metadata/${String(version).padStart(5, '0')}-${randomUUID()}.metadata.json`;
      await this.putNew(file, serializeMetadata(succeeding(changed, { location, metadata })));
      if (await this.catalog.swap(table, location, file)) return 'committed';
      // Another member committed first: wait a jittered while, so racing members spread out.
      await sleep(backoffDelayMs(conflict, CONFLICT_BACKOFF_BASE_MS, CONFLICT_BACKOFF_CAP_MS), stopSignal());
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

  /** Writes the snapshot's manifests and manifest list; returns the metadata with the snapshot. */
  private async withSnapshot(
    metadata: TableMetadata,
    snapshotId: number,
    plan: SnapshotPlan,
  ): Promise<TableMetadata> {
    const sequenceNumber = metadata['last-sequence-number'] + 1;
    const dir = `${metadata.location}/metadata`;
    const commitId = randomUUID();
    const fields = partitionFields(metadata);
    const manifests = [...plan.kept];
    for (const [i, entries] of plan.written.entries()) {
      const path = `${dir}/${commitId}-m${i}.avro`;
      const bytes = encodeManifest(entries, { schema: plan.schema, partitionFields: fields });
      await this.putNew(path, bytes);
      manifests.push(
        manifestFileOf({ path, length: bytes.length }, entries, {
          snapshotId,
          sequenceNumber,
          partitionFields: fields,
        }),
      );
    }
    const parent = currentSnapshot(metadata);
    const manifestList = `${dir}/snap-${snapshotId}-0-${commitId}.avro`;
    await this.putNew(
      manifestList,
      encodeManifestList(manifests, {
        snapshotId,
        parentSnapshotId: parent?.['snapshot-id'],
        sequenceNumber,
      }),
    );
    return withSnapshot(metadata, { ...plan, snapshotId, sequenceNumber, manifestList, nowMs: this.now() });
  }

  /**
   * The parent's manifests for an append: as they are, or from MANIFESTS_BEFORE_MERGE on (the
   * append's own counted) with the small ones packed, in order, into as few manifests of at most
   * MANIFEST_TARGET_BYTES as they fill. A merged manifest's entries are EXISTING and keep their
   * snapshot and sequence numbers, as in a rewrite.
   */
  private async mergedManifests(
    manifests: ManifestFile[],
  ): Promise<{ kept: ManifestFile[]; merged: ManifestEntry[][] }> {
    const small = manifests.filter((m) => Number(m.manifest_length) < MANIFEST_TARGET_BYTES);
    if (manifests.length + 1 < MANIFESTS_BEFORE_MERGE || small.length < 2)
      return { kept: manifests, merged: [] };
    const bins: ManifestFile[][] = [];
    let filled = Infinity;
    for (const manifest of small) {
      const bytes = Number(manifest.manifest_length);
      if (filled + bytes > MANIFEST_TARGET_BYTES) {
        bins.push([]);
        filled = 0;
      }
      bins.at(-1)!.push(manifest);
      filled += bytes;
    }
    const packed = bins.filter((bin) => bin.length > 1);
    const merging = new Set(packed.flat());
    const merged: ManifestEntry[][] = [];
    for (const bin of packed) {
      const entries = await mapConcurrent(bin, 8, (m) => this.liveEntries(m));
      merged.push(entries.flat().map((e) => ({ ...e, status: EXISTING })));
    }
    return { kept: manifests.filter((m) => !merging.has(m)), merged };
  }

  private async load(location: string): Promise<TableMetadata> {
    return parseMetadata(Buffer.from(await this.store.get(this.key(location))).toString('utf8'));
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

  /** The file as an entry of a table of `schema`: its metrics by the schema's field ids. */
  private dataFile(metadata: TableMetadata, schema: IcebergSchema, file: SegmentFile): DataFile {
    const ids = new Map(schema.fields.map((f) => [f.name, f.id]));
    return {
      path: this.url(file.key),
      records: file.records,
      bytes: file.bytes,
      hour: hourPartitionField(metadata) ? Math.floor(file.eventHourMs / HOUR_MS) : undefined,
      metrics: new Map(
        [...file.metrics].flatMap(([name, m]) => (ids.has(name) ? [[ids.get(name)!, m] as const] : [])),
      ),
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
