import { contentAttr as A, userAttr as U } from '../../schemas/koo-content.ts';
import { batchGet, type Item } from '../../shared/dynamodb/batch-writer.ts';
import type { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';

export interface Profile {
  handle?: string;
  eminent: boolean;
}

/**
 * Reads what notifications need from the content worker's views, one BatchGetItem round per
 * batch: the creator of each koo (koo_content `c`) and the handle and eminence of each user
 * (koo_users `h`, `e`). Strongly consistent, so that a reaction to a koo the content view has
 * just written finds it.
 */
export class ProfileLookup {
  private readonly dynamo: Dynamo;
  private readonly tables: { content: string; users: string };
  private readonly concurrency: number;

  constructor(dynamo: Dynamo, tables: { content: string; users: string }, concurrency: number) {
    this.dynamo = dynamo;
    this.tables = tables;
    this.concurrency = concurrency;
  }

  async creators(kooIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const item of await this.read(this.tables.content, kooIds, [A.creator])) {
      if (typeof item[A.creator] === 'string') out.set(item[A.contentId] as string, item[A.creator]);
    }
    return out;
  }

  async profiles(userIds: readonly string[]): Promise<Map<string, Profile>> {
    const out = new Map<string, Profile>();
    for (const item of await this.read(this.tables.users, userIds, [U.handle, U.eminent])) {
      out.set(item[U.userId] as string, {
        handle: typeof item[U.handle] === 'string' ? item[U.handle] : undefined,
        eminent: item[U.eminent] === true,
      });
    }
    return out;
  }

  // Both tables are keyed by `id` (contentAttr.contentId, userAttr.userId).
  private async read(table: string, ids: readonly string[], attributes: string[]): Promise<Iterable<Item>> {
    const items = await batchGet(
      this.dynamo,
      table,
      ids.map((id) => ({ id })),
      {
        keyAttributes: ['id'],
        concurrency: this.concurrency,
        consistent: true,
        projection: ['id', ...attributes],
      },
    );
    return items.values();
  }
}
