/**
 * The DynamoDB tables, their keys, GSIs and TTL attributes: the one definition that local
 * provisioning (infra/provision.ts), the workers and the AWS templates read.
 * Attribute names are short on purpose (item size is billed); schemas/README.md maps them.
 */
import { contentAttr } from './koo-content.ts';

export interface KeyAttribute {
  name: string;
  type: 'S' | 'N';
}

export interface IndexDefinition {
  name: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  /**
   * Non-key attributes copied into the index besides the keys (KEYS_ONLY when empty). An update
   * of the base item writes the index only when it changes a projected attribute, and then pays
   * for the projected size: counters and scores, rewritten on every reaction, stay out.
   */
  projected: readonly string[];
}

/** The index's projection as DynamoDB (and CloudFormation) take it. */
export function projectionOf(index: IndexDefinition): {
  ProjectionType: 'KEYS_ONLY' | 'INCLUDE';
  NonKeyAttributes?: string[];
} {
  return index.projected.length === 0
    ? { ProjectionType: 'KEYS_ONLY' }
    : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projected] };
}

export interface TableDefinition {
  /** Name without the deployment's TABLE_PREFIX. */
  name: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  indexes: IndexDefinition[];
  ttlAttribute?: string;
}

/** A table of partitions keyed by `id` (sorted by `sortKey` when given), without GSIs, whose tombstones expire by `ttl`. */
function idKeyed(name: string, sortKey?: string): TableDefinition {
  return {
    name,
    partitionKey: { name: 'id', type: 'S' },
    ...(sortKey === undefined ? {} : { sortKey: { name: sortKey, type: 'S' } }),
    indexes: [],
    ttlAttribute: 'ttl',
  };
}

export const tables = {
  content: {
    name: 'koo_content',
    partitionKey: { name: 'id', type: 'S' },
    indexes: [
      // LANG_GROUP = lang#YYYY-MM-DD: one hot language is spread over a partition per day.
      // Readers hydrate a page of ids from the base table (one BatchGetItem): keys only.
      {
        name: 'by_lang',
        partitionKey: { name: 'lg', type: 'S' },
        sortKey: { name: 'ca', type: 'N' },
        projected: [],
      },
      // Plus what the feed's backfill filters on (parent, tombstone) and handle propagation reads
      // (handle version) without a base read.
      {
        name: 'by_creator',
        partitionKey: { name: 'c', type: 'S' },
        sortKey: { name: 'ca', type: 'N' },
        projected: [contentAttr.parent, contentAttr.deleted, contentAttr.handleVersion],
      },
    ],
    // Only delete tombstones carry it: they outlive any replay of the topic, then go.
    ttlAttribute: 'ttl',
  },
  // One item collection per koo: its reactions paged by user, and "did user X react" by key.
  // Only tombstones (a like taken back) carry the TTL: they outlive any replay of koo.reactions, then go.
  reactions: idKeyed('koo_reactions', 'u'),
  // The engagement worker's own state of each (koo, user): what the score already counts of them.
  engagement: idKeyed('koo_engagement', 'u'),
  // One item per trending sorted set (keyed by its Redis key): its snapshot, read back when Redis lost it.
  trending: { name: 'koo_trending', partitionKey: { name: 'k', type: 'S' }, indexes: [] },
  users: idKeyed('koo_users'),
  // What waits for a koo's super-parent or a user's handle, one item per waiting koo (koo-content.ts pendingAttr).
  pending: idKeyed('koo_pending', 'm'),
  // A user's partition: whom they follow (g#), their followers (r#, paged by the fan-out), counts (#).
  // Only unfollow tombstones carry the TTL: they fence replays of koo.public.follows, then go.
  graph: idKeyed('koo_graph', 'k'),
  // A reader's partition, newest entry last in key order (`<createdAt>#<contentId>`); fan-out records under fo#<id>.
  feed: idKeyed('koo_feed', 'k'),
  // What the notification sender finished (delivered, held, cancelled) and the notify state's
  // epoch: read back when Redis lost the notification state (`<ns>#<hour>#<shard>`, job id).
  notifyLedger: idKeyed('koo_notify_ledger', 'job'),
} as const satisfies Record<string, TableDefinition>;

export type TableKey = keyof typeof tables;

export function tableName(key: TableKey, prefix = ''): string {
  return `${prefix}${tables[key].name}`;
}
