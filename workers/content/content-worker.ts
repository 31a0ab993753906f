import { z } from 'zod';
import { topicNames } from '../../schemas/topics.ts';
import { kooRowSchema, userRowSchema, type KooRow, type UserRow } from '../../schemas/cdc.ts';
import { contentAttr as A, pendingKey, userAttr as U } from '../../schemas/koo-content.ts';
import { decodeChangeEvent, type ChangeEvent } from '../../shared/cdc/debezium.ts';
import { env, loadConfig } from '../../shared/config/load-config.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';
import { dynamoFor } from '../../shared/dynamodb/dynamo-client.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import type { RawRecord, DecodedRecord } from '../../shared/kafka/records.ts';
import { mapConcurrent } from '../../shared/runtime/backoff.ts';
import { workerConfigSchema, type WorkerModule } from '../../shared/runtime/run-worker.ts';
import { WorkerBase, type HandlerContext, type WorkerParts } from '../../shared/runtime/worker-definition.ts';
import { bodyStoreFor, type BodyStore } from './body-store.ts';
import { ContentStore, contentTables } from './content-store.ts';
import {
  isResolved,
  kooTombstone,
  kooWrite,
  latestPerKey,
  needsPropagation,
  rootOf,
  userWrite,
  type ContentSettings,
} from './decide.ts';

export const contentTopics = [topicNames.koos, topicNames.users];

export const contentConfigSchema = workerConfigSchema.safeExtend({
  CONTENT_GROUP_ID: env.string('koo-content'),
  /** Bucket of the app's media: URIs in it are stored as the object name only. */
  MEDIA_BUCKET: env.string('koo-media'),
  /** How long a delete tombstone fences replays; keep it above the CDC topics' max.compaction.lag.ms (14 days). */
  TOMBSTONE_TTL_DAYS: env.int(35, 1),
  /**
   * A body above this many UTF-8 bytes goes to BODY_BUCKET and the item points to it. Small
   * items keep every counter and score update cheap (both GSIs copy the whole item), and an
   * item can never pass DynamoDB's 400 KB limit.
   */
  BODY_INLINE_MAX_BYTES: env.int(32 * 1024, 1, 300 * 1024),
  /**
   * Every partition of both topics (12 each) at once: their reads of a turn share a request, and a
   * reply finds a parent that another partition's batch wrote meanwhile (read again after its own
   * batch's writes) instead of waiting for it. `npm run bench -- content`: 0.77 DynamoDB requests
   * per change event from a backlog, against 1.08 with 4 at once.
   */
  PARTITIONS_CONCURRENTLY: env.int(24, 1, 1024),
});
export type ContentConfig = z.infer<typeof contentConfigSchema>;

export function loadContentConfig(environment: NodeJS.ProcessEnv): ContentConfig {
  return loadConfig(contentConfigSchema, environment);
}

export type ContentEvent =
  { kind: 'koo'; change: ChangeEvent<KooRow> } | { kind: 'user'; change: ChangeEvent<UserRow> };

/** Pure: a CDC record of koos or users, validated; null for tombstones. */
export function decodeContentEvent(record: RawRecord): ContentEvent | null {
  if (record.topic === topicNames.users) {
    const change = decodeChangeEvent(record, userRowSchema);
    return change && { kind: 'user', change };
  }
  const change = decodeChangeEvent(record, kooRowSchema);
  if (!change) return null;
  const row = (change.after ?? change.before)!;
  if (row.parent_id === row.content_id) {
    throw new KooError('VALIDATION_FAILED', `koo ${row.content_id} names itself as its parent`);
  }
  return { kind: 'koo', change };
}

const kooId = (r: DecodedRecord<ContentEvent>) =>
  ((r.value.change.after ?? r.value.change.before) as KooRow).content_id;
const userId = (r: DecodedRecord<ContentEvent>) =>
  ((r.value.change.after ?? r.value.change.before) as UserRow).user_id;
const unique = (values: Iterable<string | null | undefined>) => [
  ...new Set([...values].filter((v): v is string => !!v)),
];

export interface ContentWorkerParts extends WorkerParts<ContentConfig> {
  store: ContentStore;
  bodies: BodyStore;
}

/**
 * content: koos and users CDC → koo_content (and koo_users for the creator join).
 * Per batch: keep the newest change per key, read the joined rows in batches, write fenced
 * updates, settle thread links, propagate handle changes.
 */
export class ContentWorker extends WorkerBase<ContentWorkerParts, ContentEvent> {
  readonly name = 'content';
  readonly topics = contentTopics;
  readonly tableTopics = [topicNames.users];
  private readonly settings: ContentSettings;

  constructor(parts: ContentWorkerParts) {
    super(parts.config.CONTENT_GROUP_ID, parts);
    this.settings = {
      mediaBucket: parts.config.MEDIA_BUCKET,
      tombstoneTtlSeconds: parts.config.TOMBSTONE_TTL_DAYS * 86_400,
      bodyInlineMaxBytes: parts.config.BODY_INLINE_MAX_BYTES,
    };
  }

  decode(record: RawRecord): ContentEvent | null {
    return decodeContentEvent(record);
  }

  async handle(batch: DecodedRecord<ContentEvent>[], ctx: HandlerContext): Promise<void> {
    await this.applyUsers(
      batch.filter((r) => r.value.kind === 'user'),
      ctx.signal,
    );
    await this.applyKoos(
      batch.filter((r) => r.value.kind === 'koo'),
      ctx.signal,
    );
  }

  private async applyKoos(records: DecodedRecord<ContentEvent>[], signal: AbortSignal): Promise<void> {
    if (records.length === 0) return;
    const latest = latestPerKey(records, kooId).map((r) => r.value.change as ChangeEvent<KooRow>);
    const creators = unique(latest.filter((c) => c.op !== 'd').map((c) => c.after!.creator_id));
    const parentsOf = (changes: ChangeEvent<KooRow>[]) =>
      this.parts.store.getKoos(unique(changes.map((c) => c.after?.parent_id)));
    const [users, firstParents] = await Promise.all([this.parts.store.getUsers(creators), parentsOf(latest)]);
    let parents = firstParents;
    const written: Item[] = [];
    // A reply whose parent is not resolved yet is written after the rest of the batch, which may
    // hold or resolve its parent, as may the batches of other partitions meanwhile: read again,
    // the parent gives the reply its root at once, instead of a wait in the parent's pending set
    // (five more requests). Each round writes at least one koo; what stays unresolved waits.
    for (let todo = latest; todo.length > 0;) {
      const waits = (c: ChangeEvent<KooRow>) =>
        c.op !== 'd' && c.after!.parent_id !== null && !isResolved(parents.get(c.after!.parent_id));
      const now = todo.filter((c) => !waits(c));
      const later = todo.filter(waits);
      await this.writeKoos(now.length > 0 ? now : later, users, parents, written, signal);
      if (now.length === 0) break;
      todo = later;
      if (todo.length > 0) parents = await parentsOf(todo);
    }
    await this.repairHandles(written);
  }

  private async writeKoos(
    changes: ChangeEvent<KooRow>[],
    users: Map<string, Item>,
    parents: Map<string, Item>,
    written: Item[],
    signal: AbortSignal,
  ): Promise<void> {
    await mapConcurrent(
      changes,
      this.parts.config.SINK_CONCURRENCY,
      async (change) => {
        const write =
          change.op === 'd'
            ? kooTombstone(change, this.settings, this.now())
            : kooWrite(
                change,
                users.get(change.after!.creator_id),
                parents.get(change.after!.parent_id ?? ''),
                this.settings,
              );
        // The object exists before any item points to it. Fenced out, this version's object is
        // nobody's: the stored version is newer, with its own key.
        if (write.offloadedBody)
          await this.parts.bodies.put(write.offloadedBody.key, write.offloadedBody.body);
        const after = await this.parts.store.writeKoo(write);
        if (!after) {
          if (write.offloadedBody) await this.parts.bodies.remove(write.offloadedBody.key);
          return; // a newer change is stored; it settled its own links
        }
        if (change.op === 'd') await this.parts.bodies.removeKoo(write.contentId);
        else {
          written.push(after);
          // The creator's row has not arrived: wait for it in its pending set (if it arrived
          // meanwhile, the repair below sets the handle).
          if (after[A.creatorHandle] === undefined)
            await this.parts.store.addPendingKoo(change.after!.creator_id, change.after!.content_id);
        }
        await this.settleThread(after);
      },
      signal,
    );
  }

  /**
   * Gives a koo its super-parent, now or later: a reply whose parent is not resolved waits in the
   * parent's pending set; a resolved koo passes its root down to the replies waiting on it.
   */
  private async settleThread(item: Item): Promise<void> {
    const id = item[A.contentId] as string;
    if (!isResolved(item)) {
      const parentId = item[A.parent] as string;
      if (await this.parts.store.addPendingChild(parentId, id)) return;
      const parent = await this.parts.store.getKoo(parentId);
      if (!isResolved(parent)) {
        throw new KooError(
          'SINK_UNAVAILABLE',
          `parent ${parentId} of ${id} changed while linking; retrying`,
          { retriable: true },
        );
      }
      const updated = await this.parts.store.setSuperParent(id, parentId, rootOf(parent!));
      if (updated) await this.settleThread(updated);
      return;
    }
    const root = rootOf(item);
    const settle = (childIds: readonly string[]) =>
      mapConcurrent(childIds, this.parts.config.SINK_CONCURRENCY, async (childId) => {
        const child = await this.parts.store.setSuperParent(childId, id, root);
        if (child) await this.settleThread(child);
      });
    const kept = item[A.pendingChildren] as Set<string> | undefined;
    if (kept && kept.size > 0) {
      await settle([...kept]);
      await this.parts.store.removePendingChildren(id, [...kept]);
    }
    if (item[A.waitedOn] === undefined) return;
    await this.parts.store.drainPending(pendingKey.children(id), settle);
    await this.parts.store.unmarkKoo(id);
  }

  /**
   * A rename can land between reading a creator and writing their koo; reading the creators
   * again after the writes catches it (one batch read per batch).
   */
  private async repairHandles(written: Item[]): Promise<void> {
    if (written.length === 0) return;
    const users = await this.parts.store.getUsers(unique(written.map((i) => i[A.creator] as string)));
    const stale = written.flatMap((item) => {
      const user = users.get(item[A.creator] as string);
      if (!user || user[U.deleted] !== undefined) return [];
      const have = (item[A.handleVersion] as number | undefined) ?? -1;
      return (user[U.version] as number) > have ? [{ item, user }] : [];
    });
    await mapConcurrent(stale, this.parts.config.SINK_CONCURRENCY, ({ item, user }) =>
      this.parts.store.setHandle(
        item[A.contentId] as string,
        user[U.handle] as string,
        user[U.version] as number,
      ),
    );
  }

  private async applyUsers(records: DecodedRecord<ContentEvent>[], signal: AbortSignal): Promise<void> {
    const latest = latestPerKey(records, userId).map((r) => r.value.change as ChangeEvent<UserRow>);
    await mapConcurrent(
      latest,
      this.parts.config.SINK_CONCURRENCY,
      async (change) => {
        const write = userWrite(change, this.settings, this.now());
        const before = await this.parts.store.writeUser(write);
        const handle = write.set[U.handle];
        if (before === undefined || typeof handle !== 'string') return; // fenced out, or a delete
        const giveHandle = (ids: readonly string[]) =>
          mapConcurrent(ids, this.parts.config.SINK_CONCURRENCY, (id) =>
            this.parts.store.setHandle(id, handle, write.version),
          );
        const kept = before?.[U.pendingKoos] as Set<string> | undefined;
        if (kept && kept.size > 0) {
          await giveHandle([...kept]);
          await this.parts.store.removePendingKoos(write.userId, [...kept]);
        }
        if (before?.[U.waitedOn] !== undefined) {
          await this.parts.store.drainPending(pendingKey.koos(write.userId), giveHandle);
          await this.parts.store.unmarkUser(write.userId);
        }
        if (needsPropagation(before, handle)) {
          await this.propagateHandle(write.userId, handle, write.version);
          await this.parts.store.setPropagatedHandle(write.userId, handle, write.version);
        }
      },
      signal,
    );
  }

  private async propagateHandle(userId: string, handle: string, version: number): Promise<void> {
    for await (const page of this.parts.store.creatorKoos(userId)) {
      const stale = page.filter((i) => ((i[A.handleVersion] as number | undefined) ?? -1) < version);
      await mapConcurrent(stale, this.parts.config.SINK_CONCURRENCY, (i) =>
        this.parts.store.setHandle(i[A.contentId] as string, handle, version),
      );
    }
  }

  sinkReady(): Promise<boolean> {
    return this.parts.store.reachable();
  }

  async close(): Promise<void> {
    this.parts.bodies.destroy();
  }
}

export const contentWorkerModule: WorkerModule<ContentConfig, ContentEvent> = {
  name: 'content',
  loadConfig: loadContentConfig,
  create: (config) => createContentWorker(config),
};

export function createContentWorker(config: ContentConfig): ContentWorker {
  const store = new ContentStore(
    dynamoFor(config),
    contentTables(config.TABLE_PREFIX),
    config.SINK_CONCURRENCY,
  );
  return new ContentWorker({ store, bodies: bodyStoreFor(config), config });
}
