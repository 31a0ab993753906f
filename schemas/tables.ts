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
  reactions: {
    name: 'koo_reactions',
    // One item collection per koo: its reactions paged by user, and "did user X react" by key.
    partitionKey: { name: 'id', type: 'S' },
    sortKey: { name: 'u', type: 'S' },
    indexes: [],
    // Only tombstones (a like taken back) carry it: they outlive any replay of koo.reactions, then go.
    ttlAttribute: 'ttl',
  },
  engagement: {
    name: 'koo_engagement',
    // The engagement worker's own state of each (koo, user): what the score already counts of them.
    partitionKey: { name: 'id', type: 'S' },
    sortKey: { name: 'u', type: 'S' },
    indexes: [],
    // Only tombstones (a like taken back) carry it, as in koo_reactions.
    ttlAttribute: 'ttl',
  },
  trending: {
    // One item per trending sorted set (keyed by its Redis key): its snapshot, read back when Redis lost it.
    name: 'koo_trending',
    partitionKey: { name: 'k', type: 'S' },
    indexes: [],
  },
  users: {
    name: 'koo_users',
    partitionKey: { name: 'id', type: 'S' },
    indexes: [],
    ttlAttribute: 'ttl',
  },
  graph: {
    name: 'koo_graph',
    // A user's partition: whom they follow (g#), their followers (r#, paged by the fan-out), counts (#).
    partitionKey: { name: 'id', type: 'S' },
    sortKey: { name: 'k', type: 'S' },
    indexes: [],
    // Only unfollow tombstones carry it: they fence replays of koo.public.follows, then go.
    ttlAttribute: 'ttl',
  },
  feed: {
    name: 'koo_feed',
    // A reader's partition, newest entry last in key order (`<createdAt>#<contentId>`); fan-out records under fo#<id>.
    partitionKey: { name: 'id', type: 'S' },
    sortKey: { name: 'k', type: 'S' },
    indexes: [],
    ttlAttribute: 'ttl',
  },
} as const satisfies Record<string, TableDefinition>;

export type TableKey = keyof typeof tables;

export function tableName(key: TableKey, prefix = ''): string {
  return `${prefix}${tables[key].name}`;
}
