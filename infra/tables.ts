/**
 * The DynamoDB tables, their keys, GSIs and TTL attributes: the one definition that local
 * provisioning (infra/provision.ts), the workers and the AWS templates read.
 * Attribute names are short on purpose (item size is billed); schemas/README.md maps them.
 */
export interface KeyAttribute {
  name: string;
  type: 'S' | 'N';
}

export interface IndexDefinition {
  name: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
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
      { name: 'by_lang', partitionKey: { name: 'lg', type: 'S' }, sortKey: { name: 'ca', type: 'N' } },
      { name: 'by_creator', partitionKey: { name: 'c', type: 'S' }, sortKey: { name: 'ca', type: 'N' } },
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
  users: {
    name: 'koo_users',
    partitionKey: { name: 'id', type: 'S' },
    indexes: [],
    ttlAttribute: 'ttl',
  },
} as const satisfies Record<string, TableDefinition>;

export type TableKey = keyof typeof tables;

export function tableName(key: TableKey, prefix = ''): string {
  return `${prefix}${tables[key].name}`;
}
