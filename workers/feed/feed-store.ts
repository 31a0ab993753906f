import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { contentAttr as A, userAttr as U } from '../../schemas/koo-content.ts';
import { fanOutRecordId, feedAttr as F } from '../../schemas/koo-feed.ts';
import { batchGet, batchWrite, type Item, type WriteRequest } from '../../shared/dynamodb/batch-writer.ts';
import { isConditionFailed } from '../../shared/dynamodb/dynamo-client.ts';
import { query, queryPages } from '../../shared/dynamodb/query.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import {
  authorKoosId,
  fanOutRecordOf,
  keysBeyondCap,
  type FanOutRecord,
  type FanOutState,
} from './decide.ts';
import { DynamoStore } from '../../shared/dynamodb/dynamo-store.ts';

export interface FeedTables {
  feed: string;
  content: string;
  users: string;
}

const feedKey = [F.userId, F.key] as const;

/**
 * The feed worker's adapter for koo_feed (entries and fan-out records) and its reads of
 * koo_content and koo_users. Entry writes are unconditional puts and deletes of deterministic
 * keys, so doing them twice is doing them once; records are fenced by the koo's LSN.
 */
export class FeedStore extends DynamoStore<FeedTables> {
  /** Writes and deletes entries, 25 to a request. */
  writeEntries(requests: readonly WriteRequest[]): Promise<void> {
    return batchWrite(this.dynamo, this.tables.feed, requests, {
      keyAttributes: feedKey,
      concurrency: this.concurrency,
    });
  }

  async getRecords(contentIds: readonly string[]): Promise<Map<string, FanOutRecord>> {
    const items = await batchGet(
      this.dynamo,
      this.tables.feed,
      contentIds.map((id) => ({ [F.userId]: fanOutRecordId(id), [F.key]: '#' })),
      { keyAttributes: feedKey, concurrency: this.concurrency },
    );
    const records = new Map<string, FanOutRecord>();
    for (const item of items.values()) {
      records.set((item[F.userId] as string).slice(fanOutRecordId('').length), fanOutRecordOf(item));
    }
    return records;
  }

  /**
   * Starts a job's record (a fresh one, or over an older change's): written before the job's first
   * entry, so a koo without a record has no entries. False when a newer change got there first.
   */
  async startRecord(
    contentId: string,
    state: FanOutState,
    version: number,
    expiresAt: number,
  ): Promise<boolean> {
    try {
      await this.dynamo.call('PutItem', (doc) =>
        doc.send(
          new PutCommand({
            TableName: this.tables.feed,
            Item: {
              [F.userId]: fanOutRecordId(contentId),
              [F.key]: '#',
              [F.state]: state,
              [F.version]: version,
              [F.written]: 0,
              [F.expiresAt]: expiresAt,
            },
            ConditionExpression: 'attribute_not_exists(#v) OR #v < :v',
            ExpressionAttributeNames: { '#v': F.version },
            ExpressionAttributeValues: { ':v': version },
          }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }

  /** Saves a running job's progress; `finalState` ends it (the cursor goes). */
  async saveProgress(
    contentId: string,
    version: number,
    progress: { cursor?: string; written: number; finalState?: FanOutState },
  ): Promise<void> {
    const set = [
      `#n = :n`,
      ...(progress.cursor ? ['#cur = :cur'] : []),
      ...(progress.finalState ? ['#s = :s'] : []),
    ];
    const saved = await this.dynamo.updateIf({
      TableName: this.tables.feed,
      Key: { [F.userId]: fanOutRecordId(contentId), [F.key]: '#' },
      UpdateExpression: `SET ${set.join(', ')}${progress.finalState ? ' REMOVE #cur' : ''}`,
      ConditionExpression: '#v = :v',
      ExpressionAttributeNames: {
        '#n': F.written,
        '#v': F.version,
        '#cur': F.cursor,
        ...(progress.finalState ? { '#s': F.state } : {}),
      },
      ExpressionAttributeValues: {
        ':n': progress.written,
        ':v': version,
        ...(progress.cursor ? { ':cur': progress.cursor } : {}),
        ...(progress.finalState ? { ':s': progress.finalState } : {}),
      },
    });
    if (!saved)
      throw new KooError('SINK_UNAVAILABLE', `fan-out record of ${contentId} moved on; reading again`, {
        retriable: true,
      });
  }

  /** Deletes a feed's entries beyond the cap (the oldest); returns how many went. */
  async trim(userId: string, cap: number): Promise<number> {
    return this.deleteEntries(userId, keysBeyondCap(await this.entryKeys(userId), cap));
  }

  /** Deletes every entry of one author from a user's feed (an unfollow); returns how many went. */
  async removeAuthor(userId: string, authorId: string): Promise<number> {
    return this.deleteEntries(userId, await this.entryKeys(userId, authorId));
  }

  private async deleteEntries(userId: string, keys: readonly string[]): Promise<number> {
    if (keys.length > 0)
      await this.writeEntries(keys.map((k) => ({ delete: { [F.userId]: userId, [F.key]: k } })));
    return keys.length;
  }

  /** Sort keys of a feed's entries (of one author, if given), newest first. Feeds are capped, so this is bounded. */
  private async entryKeys(userId: string, authorId?: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of queryPages(this.dynamo, {
      TableName: this.tables.feed,
      KeyConditionExpression: '#id = :id',
      ProjectionExpression: '#k',
      ExpressionAttributeNames: { '#id': F.userId, '#k': F.key, ...(authorId ? { '#a': F.author } : {}) },
      ExpressionAttributeValues: { ':id': userId, ...(authorId ? { ':a': authorId } : {}) },
      ...(authorId ? { FilterExpression: '#a = :a' } : {}),
      ScanIndexForward: false,
    }))
      keys.push(...page.map((i) => i[F.key] as string));
    return keys;
  }

  /** The newest entries of an author's koo index (decide.ts authorKoosId), strongly consistent. */
  async newestOfAuthor(authorId: string, limit: number): Promise<Item[]> {
    const out = await query(this.dynamo, {
      TableName: this.tables.feed,
      KeyConditionExpression: '#id = :id',
      ExpressionAttributeNames: { '#id': F.userId },
      ExpressionAttributeValues: { ':id': authorKoosId(authorId) },
      ScanIndexForward: false,
      ConsistentRead: true,
      Limit: limit,
    });
    return out.Items ?? [];
  }

  /** An author's newest koos (GSI by_creator, replies included: the caller filters), up to `limit` items. */
  async newestByCreator(authorId: string, limit: number): Promise<Item[]> {
    const out = await query(this.dynamo, {
      TableName: this.tables.content,
      IndexName: 'by_creator',
      KeyConditionExpression: '#c = :c',
      ExpressionAttributeNames: { '#c': A.creator },
      ExpressionAttributeValues: { ':c': authorId },
      ScanIndexForward: false,
      Limit: limit,
    });
    return out.Items ?? [];
  }

  /** Authors' users items (eminent flag), as the content worker keeps them. */
  getUsers(ids: readonly string[]): Promise<Map<string, Item>> {
    return batchGet(
      this.dynamo,
      this.tables.users,
      ids.map((id) => ({ [U.userId]: id })),
      { keyAttributes: [U.userId], concurrency: this.concurrency, projection: [U.userId, U.eminent] },
    );
  }
}
