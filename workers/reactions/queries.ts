import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { contentAttr as A, reactionAttr as R } from '../../schemas/koo-content.ts';
import { decodeCursor, encodeCursor, type Page } from '../../shared/dynamodb/cursor.ts';
import { queryUntil } from '../../shared/dynamodb/query.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';
import { countersOf, reactionFlags as F, type Counters } from './decide.ts';
import { DynamoQueries } from '../../shared/dynamodb/dynamo-store.ts';
import { projectionOf } from '../../shared/dynamodb/update-expression.ts';

/** One user's reactions to a koo, as the app reads them. */
export interface ReactionView {
  userId: string;
  liked: boolean;
  shared: boolean;
  rekooed: boolean;
  /** ISO time of the user's latest reaction to the koo. */
  reactedAt: string | null;
}

export interface ReactionQueryOptions {
  reactionsTable: string;
  contentTable: string;
}

/** Reads of the reactions view: who reacted to a koo (paged), whether a user did, and the counts. */
export class ReactionQueries extends DynamoQueries<ReactionQueryOptions> {
  /** Null for no reaction, including a tombstone (a like taken back). */
  toView(item: Item | undefined): ReactionView | null {
    const flags = (item?.[R.flags] as number | undefined) ?? 0;
    if (!item || flags === 0) return null;
    const at = item[R.reactedAt] as number | undefined;
    return {
      userId: item[R.userId] as string,
      liked: (flags & F.like) !== 0,
      shared: (flags & F.share) !== 0,
      rekooed: (flags & F.rekoo) !== 0,
      reactedAt: at === undefined ? null : new Date(at).toISOString(),
    };
  }

  /**
   * Users who reacted to a koo, by user id. Tombstones are filtered on the server, so a read may
   * take more than one request to fill a page.
   */
  async reactionsOf(contentId: string, limit = 20, cursor?: string): Promise<Page<ReactionView>> {
    const { items, next } = await queryUntil(
      this.dynamo,
      {
        TableName: this.options.reactionsTable,
        KeyConditionExpression: '#id = :id',
        FilterExpression: '#f > :none',
        ExpressionAttributeNames: { '#id': R.contentId, '#f': R.flags },
        ExpressionAttributeValues: { ':id': contentId, ':none': 0 },
        ExclusiveStartKey: cursor ? decodeCursor<Item>(cursor) : undefined,
      },
      limit,
      (i) => this.toView(i) ?? undefined,
    );
    return { items, ...(next ? { cursor: encodeCursor(next) } : {}) };
  }

  /** How a user reacted to a koo, or null when they did not. */
  async reactionOf(contentId: string, userId: string): Promise<ReactionView | null> {
    const out = await this.dynamo.call('GetItem', (doc) =>
      doc.send(
        new GetCommand({
          TableName: this.options.reactionsTable,
          Key: { [R.contentId]: contentId, [R.userId]: userId },
        }),
      ),
    );
    return this.toView(out.Item);
  }

  /** A koo's reaction counters (zero when it has none). */
  async counts(contentId: string): Promise<Counters> {
    const out = await this.dynamo.call('GetItem', (doc) =>
      doc.send(
        new GetCommand({
          TableName: this.options.contentTable,
          Key: { [A.contentId]: contentId },
          ...projectionOf([A.likes, A.shares, A.rekoos]),
        }),
      ),
    );
    return countersOf(out.Item);
  }
}
