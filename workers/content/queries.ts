import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { contentAttr as A } from '../../schemas/koo-content.ts';
import { batchGet, type Item } from '../../shared/dynamodb/batch-writer.ts';
import { decodeCursor, encodeCursor, type Page } from '../../shared/dynamodb/cursor.ts';
import { query } from '../../shared/dynamodb/query.ts';
import { mapConcurrent } from '../../shared/runtime/backoff.ts';
import type { BodyStore } from './body-store.ts';
import { mediaUri } from './decide.ts';
import { DynamoQueries } from '../../shared/dynamodb/dynamo-store.ts';

export type { Page };

/** A koo as the app reads it: long names, the full media URI, ISO times. */
export interface KooView {
  contentId: string;
  parentId: string | null;
  superParentId: string | null;
  creatorId: string;
  creatorHandle: string | null;
  lang: string;
  body: string;
  mediaUri: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface ContentQueryOptions {
  contentTable: string;
  mediaBucket: string;
  /** Where the bodies too large for an item are (the content worker's BODY_BUCKET). */
  bodies: BodyStore;
  /** How many empty day buckets a by-language read walks back before it stops. */
  langLookbackDays?: number;
}

const DAY_MS = 86_400_000;

/** The seed's access patterns on koo_content, plus the thread lookup. */
export class ContentQueries extends DynamoQueries<ContentQueryOptions> {
  /**
   * Items as the app reads them, bodies fetched from S3 where an item points there. Null for
   * what is not a koo: a stub (a reply's placeholder for a parent not seen yet), a tombstone, or
   * a koo whose body object is gone (it was deleted since the item was read).
   */
  views(items: readonly (Item | undefined)[]): Promise<(KooView | null)[]> {
    return mapConcurrent(items, 16, (item) => this.view(item));
  }

  private async view(item: Item | undefined): Promise<KooView | null> {
    if (!item || item[A.creator] === undefined || item[A.deleted] !== undefined) return null;
    const key = item[A.bodyKey];
    const body =
      typeof key === 'string'
        ? await this.options.bodies.get(key)
        : ((item[A.body] as string | undefined) ?? '');
    if (body === null) return null;
    return {
      contentId: item[A.contentId] as string,
      parentId: (item[A.parent] as string | undefined) ?? null,
      superParentId: (item[A.superParent] as string | undefined) ?? null,
      creatorId: item[A.creator] as string,
      creatorHandle: (item[A.creatorHandle] as string | undefined) ?? null,
      lang: item[A.lang] as string,
      body,
      mediaUri: mediaUri(item, this.options.mediaBucket),
      createdAt: new Date(item[A.createdAt] as number).toISOString(),
      updatedAt: new Date(item[A.updatedAt] as number).toISOString(),
      version: item[A.version] as number,
    };
  }

  private async koos(items: readonly Item[]): Promise<KooView[]> {
    return (await this.views(items)).filter((v): v is KooView => v !== null);
  }

  /**
   * The koos of a GSI page, read from the table in one batch (the indexes project keys, not
   * counters or bodies), in the page's order; one deleted meanwhile is left out.
   */
  private async indexedKoos(page: readonly Item[]): Promise<KooView[]> {
    const ids = page.map((i) => i[A.contentId] as string);
    const found = await batchGet(
      this.dynamo,
      this.options.contentTable,
      ids.map((id) => ({ [A.contentId]: id })),
      { keyAttributes: [A.contentId], consistent: false },
    );
    return this.koos(ids.flatMap((id) => found.get(id) ?? []));
  }

  /** Get a koo by its id. */
  async getKoo(contentId: string): Promise<KooView | null> {
    const out = await this.dynamo.call('GetItem', (doc) =>
      doc.send(new GetCommand({ TableName: this.options.contentTable, Key: { [A.contentId]: contentId } })),
    );
    return (await this.views([out.Item]))[0]!;
  }

  /** Get a koo's parent and super-parent (thread root): ids, and the koos themselves in one batch read. */
  async getThread(
    contentId: string,
  ): Promise<{ koo: KooView; parent: KooView | null; superParent: KooView | null } | null> {
    const koo = await this.getKoo(contentId);
    if (!koo) return null;
    const ids = [koo.parentId, koo.superParentId].filter((v): v is string => v !== null);
    const found = await batchGet(
      this.dynamo,
      this.options.contentTable,
      ids.map((id) => ({ [A.contentId]: id })),
      { keyAttributes: [A.contentId], consistent: false },
    );
    const [parent, superParent] = await this.views([
      koo.parentId ? found.get(koo.parentId) : undefined,
      koo.superParentId ? found.get(koo.superParentId) : undefined,
    ]);
    return { koo, parent: parent!, superParent: superParent! };
  }

  /** Koos by a creator, newest first (GSI by_creator). */
  async koosByCreator(creatorId: string, limit = 20, cursor?: string): Promise<Page<KooView>> {
    const out = await query(this.dynamo, {
      TableName: this.options.contentTable,
      IndexName: 'by_creator',
      KeyConditionExpression: '#c = :c',
      ExpressionAttributeNames: { '#c': A.creator },
      ExpressionAttributeValues: { ':c': creatorId },
      ScanIndexForward: false,
      Limit: limit,
      ExclusiveStartKey: cursor ? decodeCursor<Item>(cursor) : undefined,
    });
    return {
      items: await this.indexedKoos(out.Items ?? []),
      ...(out.LastEvaluatedKey ? { cursor: encodeCursor(out.LastEvaluatedKey) } : {}),
    };
  }

  /**
   * Koos in a language, newest first (GSI by_lang). LANG_GROUP buckets one UTC day each, so the
   * read walks back day by day from `beforeMs` (default: now) until the page is full or
   * `langLookbackDays` days in a row were empty; the cursor remembers the day and position.
   */
  async koosByLang(
    lang: string,
    limit = 20,
    cursor?: string,
    beforeMs = Date.now() + DAY_MS,
  ): Promise<Page<KooView>> {
    type LangCursor = { day: number; key?: Item; empty: number };
    const lookback = this.options.langLookbackDays ?? 30;
    let state: LangCursor = cursor
      ? decodeCursor<LangCursor>(cursor)
      : { day: Math.floor(beforeMs / DAY_MS), empty: 0 };
    const items: KooView[] = [];
    while (items.length < limit && state.empty < lookback) {
      const bucket = `${lang}#${new Date(state.day * DAY_MS).toISOString().slice(0, 10)}`;
      const out = await query(this.dynamo, {
        TableName: this.options.contentTable,
        IndexName: 'by_lang',
        KeyConditionExpression: '#lg = :lg',
        ExpressionAttributeNames: { '#lg': A.langGroup },
        ExpressionAttributeValues: { ':lg': bucket },
        ScanIndexForward: false,
        Limit: limit - items.length,
        ExclusiveStartKey: state.key,
      });
      const found = await this.indexedKoos(out.Items ?? []);
      items.push(...found);
      if (out.LastEvaluatedKey) {
        state = { day: state.day, key: out.LastEvaluatedKey, empty: 0 };
      } else {
        state = { day: state.day - 1, empty: found.length > 0 || state.key ? 0 : state.empty + 1 };
      }
    }
    return { items, ...(state.empty < lookback ? { cursor: encodeCursor(state) } : {}) };
  }
}
