/**
 * What each deployable process (workers/catalog.ts) may do on AWS: the DynamoDB actions per table
 * (and per GSI), the S3 actions on the lake and on the bucket of large koo bodies, and the Glue
 * actions on the lake's Iceberg catalog. infra/aws/render.ts turns each entry into one
 * least-privilege IAM managed policy; test/unit/aws-template.test.ts checks every entry against
 * what the worker's code calls (infra/aws/code-access.ts): nothing it calls is missing, nothing
 * granted goes unused.
 *
 * Actions are IAM action names without the service prefix. A transaction needs no action of its
 * own: each of its Put/Update/Delete/ConditionCheck items is authorised as PutItem, UpdateItem,
 * DeleteItem, ConditionCheckItem on its table. A Query on a GSI is authorised on the index's ARN
 * (`<table>/index/<name>`), not the table's. HeadObject is authorised as GetObject; a multipart
 * upload (lib-storage's Upload) as PutObject, plus AbortMultipartUpload when it fails.
 */
import type { TableKey } from '../../schemas/tables.ts';

export type TableAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'Scan'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'BatchWriteItem'
  | 'ConditionCheckItem';

/** What can be done on a GSI (its items are read-only copies). */
export type IndexAction = 'Query' | 'Scan';

/**
 * ListBucket is granted on the bucket; the others on its objects (the lake's below
 * `<bucket>/<LakePrefix>*`, the bodies bucket's all).
 */
export type BucketAction = 'ListBucket' | 'GetObject' | 'PutObject' | 'AbortMultipartUpload' | 'DeleteObject';

/**
 * Glue actions on the lake's Iceberg catalog (LAKE_CATALOG_URL `glue://<LakeCatalogDatabase>`):
 * granted on the account's catalog, the database and its tables.
 */
export type CatalogAction = 'GetTable' | 'CreateTable' | 'UpdateTable';

export interface TableAccess {
  table: TableKey;
  /** Actions on the table itself (may be empty when only an index is read). */
  actions: readonly TableAction[];
  /** Actions per GSI of the table, by index name. */
  indexes?: Readonly<Record<string, readonly IndexAction[]>>;
}

export interface WorkerAccess {
  tables: readonly TableAccess[];
  lake?: readonly BucketAction[];
  /** BODY_BUCKET: koo bodies too large for an item. */
  bodies?: readonly BucketAction[];
  lakeCatalog?: readonly CatalogAction[];
}

/** One entry per catalog entry, by its name. */
export const workerAccess: Readonly<Record<string, WorkerAccess>> = {
  content: {
    tables: [
      // Koos: batch reads of parents, fenced updates, thread links, handles; a creator's koos by GSI.
      {
        table: 'content',
        actions: ['BatchGetItem', 'GetItem', 'UpdateItem'],
        indexes: { by_creator: ['Query'] },
      },
      // Users: batch reads for the creator join, fenced updates and the waited-on mark.
      { table: 'users', actions: ['BatchGetItem', 'UpdateItem'] },
      // What waits for a super-parent or a handle: put with the mark, read and removed when it comes.
      { table: 'pending', actions: ['PutItem', 'Query', 'BatchWriteItem'] },
    ],
    // Large bodies: put before the item points to them; a fenced-out version's object and a
    // deleted koo's objects (listed by its prefix) removed. It never reads them back.
    bodies: ['ListBucket', 'PutObject', 'DeleteObject'],
  },
  reactions: {
    tables: [
      // Who-reacted items: batch reads of stored pairs, puts inside the koo's transactions.
      { table: 'reactions', actions: ['BatchGetItem', 'PutItem'] },
      // Counters and their fence on the koo: batch reads, a fenced update in each transaction,
      // and the readiness probe.
      { table: 'content', actions: ['BatchGetItem', 'GetItem', 'UpdateItem'] },
    ],
  },
  engagement: {
    tables: [
      // Scores and fences on the koo: batch reads, conditional updates, the readiness probe.
      { table: 'content', actions: ['BatchGetItem', 'GetItem', 'UpdateItem'] },
      // Users' states of the koos: batch reads, puts inside the score's transactions.
      { table: 'engagement', actions: ['BatchGetItem', 'PutItem'] },
      // Trending snapshots: written in batches, read back when Redis lost a set.
      { table: 'trending', actions: ['BatchWriteItem', 'GetItem'] },
    ],
  },
  feed: {
    tables: [
      // Edges and counts: batch reads, transactions (Put, Delete, Update items), follower pages,
      // the pulled-authors registry (UpdateItem), counts (GetItem, also the readiness probe).
      {
        table: 'graph',
        actions: ['BatchGetItem', 'GetItem', 'Query', 'PutItem', 'DeleteItem', 'UpdateItem'],
      },
      // Feed entries (batch puts and deletes), fan-out records (fenced put, progress updates), trims.
      { table: 'feed', actions: ['BatchGetItem', 'BatchWriteItem', 'PutItem', 'UpdateItem', 'Query'] },
      // An author's newest koos, by GSI only, for a new follower's backfill.
      { table: 'content', actions: [], indexes: { by_creator: ['Query'] } },
      // Authors' eminence flag.
      { table: 'users', actions: ['BatchGetItem'] },
    ],
  },
  lake: {
    tables: [],
    // Lists a partition-hour, heads its holder object (HeadObject is GetObject; with ListBucket a
    // missing key answers 404, which the worker relies on), writes conditionally, single or multipart.
    // No DeleteObject: only `koo lake compact` deletes, with the operator's credentials.
    lake: ['ListBucket', 'GetObject', 'PutObject', 'AbortMultipartUpload'],
    // Each topic's Iceberg table: read its pointer, create it once, swap the pointer per commit.
    // Snapshot expiry and compaction (`koo lake`) run with the operator's credentials.
    lakeCatalog: ['GetTable', 'CreateTable', 'UpdateTable'],
  },
  notify: {
    tables: [
      // Read-only lookups of the content worker's views: a koo's creator, a user's handle and eminence.
      { table: 'content', actions: ['BatchGetItem'] },
      { table: 'users', actions: ['BatchGetItem'] },
      // The notification state's epoch, and the finished jobs it restores after a Redis loss.
      { table: 'notifyLedger', actions: ['GetItem', 'PutItem', 'Query'] },
    ],
  },
  // Reads BullMQ in Redis (ElastiCache), calls the push transport, and records each finished job.
  'notify-sender': { tables: [{ table: 'notifyLedger', actions: ['BatchWriteItem'] }] },
};
