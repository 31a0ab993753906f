import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { contentAttr as A, pendingAttr as P, pendingKey, userAttr as U } from '../../schemas/koo-content.ts';
import { batchGet, batchWrite, type Item } from '../../shared/dynamodb/batch-writer.ts';
import { transactWriteIf } from '../../shared/dynamodb/transact.ts';
import { tableName } from '../../schemas/tables.ts';
import { queryPages } from '../../shared/dynamodb/query.ts';
import { buildUpdate, projectionOf, type UpdateSpec } from '../../shared/dynamodb/update-expression.ts';
import type { KooWrite, UserWrite } from './decide.ts';
import { DynamoStore } from '../../shared/dynamodb/dynamo-store.ts';

export interface ContentTables {
  content: string;
  users: string;
  pending: string;
}

/** The content worker's tables under a deployment's TABLE_PREFIX. */
export function contentTables(prefix: string): ContentTables {
  return {
    content: tableName('content', prefix),
    users: tableName('users', prefix),
    pending: tableName('pending', prefix),
  };
}

// Where a reply may still wait: the koo is absent, a stub, or a reply without super-parent.
const UNRESOLVED =
  'attribute_not_exists(#sp) AND (attribute_exists(#p) OR (attribute_not_exists(#c) AND attribute_not_exists(#x)))';
const unresolvedNames = { '#sp': A.superParent, '#p': A.parent, '#c': A.creator, '#x': A.deleted };

// Applies a change unless the stored item already has a newer one. Equal versions re-apply
// (same data), so a redelivered event also redoes the steps that follow its write.
const FENCE = 'attribute_not_exists(#fv) OR #fv <= :fv';

/**
 * The content worker's DynamoDB adapter: fenced writes of koos and users, thread links, handle
 * propagation. Every method is idempotent; none decides anything.
 */
export class ContentStore extends DynamoStore<ContentTables> {
  getUsers(ids: readonly string[]): Promise<Map<string, Item>> {
    return batchGet(
      this.dynamo,
      this.tables.users,
      ids.map((id) => ({ [U.userId]: id })),
      {
        keyAttributes: [U.userId],
        concurrency: this.concurrency,
        projection: [U.userId, U.handle, U.version, U.deleted],
      },
    );
  }

  getKoos(ids: readonly string[]): Promise<Map<string, Item>> {
    return batchGet(
      this.dynamo,
      this.tables.content,
      ids.map((id) => ({ [A.contentId]: id })),
      { keyAttributes: [A.contentId], concurrency: this.concurrency },
    );
  }

  /** Whether DynamoDB answers (readiness), by recent answers or one probe of this table. */
  reachable(): Promise<boolean> {
    return this.dynamo.reachable(this.tables.content, { [A.contentId]: '__readyz__' });
  }

  async getKoo(id: string): Promise<Item | undefined> {
    const out = await this.dynamo.call('GetItem', (doc) =>
      doc.send(
        new GetCommand({ TableName: this.tables.content, Key: { [A.contentId]: id }, ConsistentRead: true }),
      ),
    );
    return out.Item;
  }

  /** Writes a koo (or its tombstone) if no newer version is stored; returns the item after, or undefined when fenced out. */
  async writeKoo(write: KooWrite): Promise<Item | undefined> {
    return this.fencedUpdate(
      this.tables.content,
      { [A.contentId]: write.contentId },
      { set: write.set },
      A.version,
      write.version,
      'ALL_NEW',
    );
  }

  /** Writes a user if no newer version is stored; returns the item before, or undefined when fenced out. */
  async writeUser(write: UserWrite): Promise<Item | null | undefined> {
    const before = await this.fencedUpdate(
      this.tables.users,
      { [U.userId]: write.userId },
      { set: write.set, ...(write.setIfAbsent ? { setIfAbsent: write.setIfAbsent } : {}) },
      U.version,
      write.version,
      'ALL_OLD',
    );
    return before === undefined ? undefined : (before ?? null);
  }

  /** Records that every koo of the user has `handle`, unless a newer version of the user is stored (it propagates its own). */
  async setPropagatedHandle(userId: string, handle: string, version: number): Promise<void> {
    await this.dynamo.updateIf({
      TableName: this.tables.users,
      Key: { [U.userId]: userId },
      UpdateExpression: 'SET #ph = :ph',
      ConditionExpression: '#v = :v',
      ExpressionAttributeNames: { '#ph': U.propagatedHandle, '#v': U.version },
      ExpressionAttributeValues: { ':ph': handle, ':v': version },
    });
  }

  private async fencedUpdate(
    table: string,
    key: Item,
    spec: UpdateSpec,
    versionAttr: string,
    version: number,
    returnValues: 'ALL_NEW' | 'ALL_OLD',
  ): Promise<Item | undefined> {
    const update = buildUpdate(spec);
    return this.dynamo.updateIf({
      TableName: table,
      Key: key,
      ...update,
      ConditionExpression: FENCE,
      ExpressionAttributeNames: { ...update.ExpressionAttributeNames, '#fv': versionAttr },
      ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':fv': version },
      ReturnValues: returnValues,
    });
  }

  /**
   * Records that `childId` waits for `parentId`'s super-parent. Holds only while the parent is
   * not resolved: one transaction marks the parent waited on (a stub if it has not arrived) and
   * adds the child to koo_pending, so the write that resolves the parent returns the mark and the
   * children it finds there are all that wait. Returns false when the parent is already resolved
   * (the caller resolves the child itself).
   */
  addPendingChild(parentId: string, childId: string): Promise<boolean> {
    return this.addPending(
      {
        TableName: this.tables.content,
        Key: { [A.contentId]: parentId },
        ConditionExpression: UNRESOLVED,
        ExpressionAttributeNames: { '#w': A.waitedOn, ...unresolvedNames },
      },
      pendingKey.children(parentId),
      childId,
    );
  }

  /**
   * Records that a koo waits for its creator's handle. Holds only while the users item has no
   * handle (the creator's row has not arrived): the write that brings the handle returns the
   * user's mark. Returns false when the handle is there already (the caller sets it itself).
   */
  addPendingKoo(userId: string, contentId: string): Promise<boolean> {
    return this.addPending(
      {
        TableName: this.tables.users,
        Key: { [U.userId]: userId },
        ConditionExpression: 'attribute_not_exists(#h)',
        ExpressionAttributeNames: { '#w': U.waitedOn, '#h': U.handle },
      },
      pendingKey.koos(userId),
      contentId,
    );
  }

  private addPending(
    mark: {
      TableName: string;
      Key: Item;
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
    },
    waitsFor: string,
    member: string,
  ): Promise<boolean> {
    return transactWriteIf(
      this.dynamo,
      [
        { Update: { ...mark, UpdateExpression: 'SET #w = :one', ExpressionAttributeValues: { ':one': 1 } } },
        { Put: { TableName: this.tables.pending, Item: { [P.waitsFor]: waitsFor, [P.member]: member } } },
      ],
      'pending koo',
    );
  }

  /**
   * Hands every koo waiting in koo_pending under `waitsFor` to `settle`, a page at a time, and
   * removes each page once settled (a crash in between settles it again: settling is idempotent).
   */
  async drainPending(waitsFor: string, settle: (members: string[]) => Promise<unknown>): Promise<void> {
    for await (const items of queryPages(this.dynamo, {
      TableName: this.tables.pending,
      KeyConditionExpression: '#id = :id',
      ExpressionAttributeNames: { '#id': P.waitsFor },
      ExpressionAttributeValues: { ':id': waitsFor },
      ConsistentRead: true,
    })) {
      const members = items.map((i) => i[P.member] as string);
      await settle(members);
      await batchWrite(
        this.dynamo,
        this.tables.pending,
        members.map((m) => ({ delete: { [P.waitsFor]: waitsFor, [P.member]: m } })),
        { keyAttributes: [P.waitsFor, P.member], concurrency: this.concurrency },
      );
    }
  }

  /** Removes a resolved koo's mark (not one that became unresolved again: its waiters are new). */
  async unmarkKoo(contentId: string): Promise<void> {
    await this.dynamo.updateIf({
      TableName: this.tables.content,
      Key: { [A.contentId]: contentId },
      UpdateExpression: 'REMOVE #w',
      ConditionExpression: `attribute_exists(#w) AND NOT (${UNRESOLVED})`,
      ExpressionAttributeNames: { '#w': A.waitedOn, ...unresolvedNames },
    });
  }

  /** Removes the mark of a user who has a handle. */
  async unmarkUser(userId: string): Promise<void> {
    await this.dynamo.updateIf({
      TableName: this.tables.users,
      Key: { [U.userId]: userId },
      UpdateExpression: 'REMOVE #w',
      ConditionExpression: 'attribute_exists(#w) AND attribute_exists(#h)',
      ExpressionAttributeNames: { '#w': U.waitedOn, '#h': U.handle },
    });
  }

  /** Removes koos that were given their handle from a user's pending set (kept before koo_pending). */
  async removePendingKoos(userId: string, contentIds: readonly string[]): Promise<void> {
    await this.removeFromSet(this.tables.users, { [U.userId]: userId }, U.pendingKoos, contentIds);
  }

  /** Sets a reply's super-parent if it still replies to `parentId`; returns the item after, or undefined. */
  async setSuperParent(childId: string, parentId: string, superParent: string): Promise<Item | undefined> {
    return this.dynamo.updateIf({
      TableName: this.tables.content,
      Key: { [A.contentId]: childId },
      UpdateExpression: 'SET #sp = :sp',
      ConditionExpression: '#p = :parent',
      ExpressionAttributeNames: { '#sp': A.superParent, '#p': A.parent },
      ExpressionAttributeValues: { ':sp': superParent, ':parent': parentId },
      ReturnValues: 'ALL_NEW',
    });
  }

  /** Removes children that were resolved from a koo's pending set (kept before koo_pending; after they were updated). */
  async removePendingChildren(parentId: string, childIds: readonly string[]): Promise<void> {
    await this.removeFromSet(this.tables.content, { [A.contentId]: parentId }, A.pendingChildren, childIds);
  }

  private async removeFromSet(
    table: string,
    key: Item,
    attribute: string,
    members: readonly string[],
  ): Promise<void> {
    await this.dynamo.call('UpdateItem', (doc) =>
      doc.send(
        new UpdateCommand({
          TableName: table,
          Key: key,
          UpdateExpression: 'DELETE #set :done',
          ExpressionAttributeNames: { '#set': attribute },
          ExpressionAttributeValues: { ':done': new Set(members) },
        }),
      ),
    );
  }

  /** Content ids and handle versions of a creator's koos, page by page (GSI by_creator). */
  creatorKoos(creatorId: string): AsyncGenerator<Item[]> {
    const projection = projectionOf([A.contentId, A.handleVersion]);
    return queryPages(this.dynamo, {
      TableName: this.tables.content,
      IndexName: 'by_creator',
      KeyConditionExpression: '#c = :c',
      ProjectionExpression: projection.ProjectionExpression,
      ExpressionAttributeNames: { '#c': A.creator, ...projection.ExpressionAttributeNames },
      ExpressionAttributeValues: { ':c': creatorId },
    });
  }

  /** Gives a koo its creator's handle unless it already has a newer one (or is gone). */
  async setHandle(contentId: string, handle: string, handleVersion: number): Promise<void> {
    await this.dynamo.updateIf({
      TableName: this.tables.content,
      Key: { [A.contentId]: contentId },
      UpdateExpression: 'SET #h = :h, #hv = :hv',
      ConditionExpression: 'attribute_exists(#c) AND (attribute_not_exists(#hv) OR #hv < :hv)',
      ExpressionAttributeNames: { '#h': A.creatorHandle, '#hv': A.handleVersion, '#c': A.creator },
      ExpressionAttributeValues: { ':h': handle, ':hv': handleVersion },
    });
  }
}
