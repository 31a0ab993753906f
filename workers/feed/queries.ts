import { contentAttr as A } from '../../schemas/koo-content.ts';
import { feedAttr as F } from '../../schemas/koo-feed.ts';
import { batchGet, type Item } from '../../shared/dynamodb/batch-writer.ts';
import { decodeCursor, encodeCursor, type Page } from '../../shared/dynamodb/cursor.ts';
import { queryUntil } from '../../shared/dynamodb/query.ts';
import type { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { mapConcurrent } from '../../shared/runtime/backoff.ts';
import type { BodyStore } from '../content/body-store.ts';
import { ContentQueries, type KooView } from '../content/queries.ts';
import type { DecaySettings } from '../engagement/decay.ts';
import { kooScoreAt } from '../engagement/queries.ts';
import { feedSortKey } from './decide.ts';
import { mergeFeedRefs, nextFeedCursor, type FeedCursor, type FeedRef } from './feed-page.ts';
import { GraphStore } from './graph-store.ts';

/** A koo in a home feed: the koo, its reaction counts and engagement score as the workers wrote them, and how it got there. */
export interface FeedItemView extends KooView {
  likes: number;
  shares: number;
  rekoos: number;
  /** Decayed to the time of the read, as `koo query score` gives it (0 without engagement). */
  score: number;
  source: FeedRef['source'];
}

export interface FeedQueryOptions {
  graphTable: string;
  feedTable: string;
  contentTable: string;
  mediaBucket: string;
  bodies: BodyStore;
  /** FEED_CAP: pushed entries a feed shows at most. */
  cap: number;
  /** FEED_TTL_DAYS in ms: pulled koos older than a pushed entry lives are left out, as pushed ones expire. */
  entryTtlMs: number;
  /** The engagement worker's decay (ENGAGEMENT_HALF_LIFE_MINUTES, ...): scores are shown decayed. */
  decay: DecaySettings;
  /** Eminent followees read at the same time. */
  concurrency?: number;
  /**
   * How long a read of the pulled-author registry serves this read path's feeds (default 10 s).
   * The registry is one item that every feed read needs: read on each, its partition would cap the
   * feed reads of the whole app. An author who just became eminent is missing from feeds for as long.
   */
  pulledAuthorsCacheMs?: number;
}

/**
 * A user's home feed: their pushed entries merged with the recent koos of the eminent authors they
 * follow (pulled from by_creator, never fanned out), newest first, hydrated in batch reads.
 * Entries of authors the user no longer follows are left out (an unfollow may still be cleaning up).
 */
export class FeedQueries {
  private readonly dynamo: Dynamo;
  private readonly options: FeedQueryOptions;
  private readonly graph: GraphStore;
  private readonly content: ContentQueries;
  private pulled: { readAtMs: number; authors: Promise<Set<string>> } | undefined;

  constructor(dynamo: Dynamo, options: FeedQueryOptions) {
    this.dynamo = dynamo;
    this.options = options;
    this.graph = new GraphStore(dynamo, { graph: options.graphTable }, 8);
    this.content = new ContentQueries(dynamo, {
      contentTable: options.contentTable,
      mediaBucket: options.mediaBucket,
      bodies: options.bodies,
    });
  }

  /** The pulled-author registry, read again once `pulledAuthorsCacheMs` passed (concurrent reads share one request). */
  private pulledAuthors(): Promise<Set<string>> {
    const now = Date.now();
    if (!this.pulled || now - this.pulled.readAtMs >= (this.options.pulledAuthorsCacheMs ?? 10_000)) {
      const authors = this.graph.pulledAuthors();
      this.pulled = { readAtMs: now, authors };
      // A failed read is not served again.
      authors.catch(() => {
        if (this.pulled?.authors === authors) this.pulled = undefined;
      });
    }
    return this.pulled.authors;
  }

  async feed(userId: string, limit = 20, cursor?: string, nowMs = Date.now()): Promise<Page<FeedItemView>> {
    const state = cursor ? decodeCursor<FeedCursor>(cursor) : { served: 0 };
    const [following, pulledAuthors] = await Promise.all([
      this.graph.allFollowing(userId),
      this.pulledAuthors(),
    ]);
    const followed = new Set(following);
    const eminent = following.filter((id) => pulledAuthors.has(id));
    const pushedBudget = Math.min(limit, this.options.cap - state.served);
    const [pushed, pulled] = await Promise.all([
      pushedBudget > 0 ? this.pushedRefs(userId, followed, pushedBudget, state.before) : [],
      mapConcurrent(eminent, this.options.concurrency ?? 8, (author) =>
        this.pulledKoos(author, limit, nowMs - this.options.entryTtlMs, state.before),
      ),
    ]);
    const pulledItems = new Map(pulled.flat().map((i) => [i[A.contentId] as string, i]));
    const pulledRefs: FeedRef[] = [...pulledItems.values()].map((i) => ({
      sortKey: feedSortKey(i[A.createdAt] as number, i[A.contentId] as string),
      contentId: i[A.contentId] as string,
      authorId: i[A.creator] as string,
      source: 'pulled',
    }));
    const page = mergeFeedRefs([pushed, pulledRefs], limit, state.before);
    // One batch read for the whole page: pulled koos too, as by_creator projects keys, not bodies or counters.
    const hydrated = await batchGet(
      this.dynamo,
      this.options.contentTable,
      page.map((r) => ({ [A.contentId]: r.contentId })),
      { keyAttributes: [A.contentId], consistent: false },
    );
    // A koo deleted since it was pushed is a tombstone (or gone) until its retraction reaches this feed: left out.
    const found = page.map((ref) => hydrated.get(ref.contentId));
    const views = await this.content.views(found);
    const items = page.flatMap((ref, i) =>
      views[i] ? [this.feedItem(views[i], found[i]!, ref.source, nowMs)] : [],
    );
    const next = nextFeedCursor(page, limit, state);
    return { items, ...(next ? { cursor: encodeCursor(next) } : {}) };
  }

  private feedItem(view: KooView, item: Item, source: FeedRef['source'], nowMs: number): FeedItemView {
    return {
      ...view,
      likes: (item[A.likes] as number | undefined) ?? 0,
      shares: (item[A.shares] as number | undefined) ?? 0,
      rekoos: (item[A.rekoos] as number | undefined) ?? 0,
      score: kooScoreAt(item, nowMs, this.options.decay),
      source,
    };
  }

  /** The user's pushed entries older than `before`, newest first, of authors still followed. */
  private async pushedRefs(
    userId: string,
    followed: Set<string>,
    limit: number,
    before?: string,
  ): Promise<FeedRef[]> {
    const { items } = await queryUntil(
      this.dynamo,
      {
        TableName: this.options.feedTable,
        KeyConditionExpression: before ? '#id = :id AND #k < :before' : '#id = :id',
        ExpressionAttributeNames: { '#id': F.userId, ...(before ? { '#k': F.key } : {}) },
        ExpressionAttributeValues: { ':id': userId, ...(before ? { ':before': before } : {}) },
        ScanIndexForward: false,
      },
      limit,
      (i): FeedRef | undefined =>
        followed.has(i[F.author] as string)
          ? {
              sortKey: i[F.key] as string,
              contentId: i[F.contentId] as string,
              authorId: i[F.author] as string,
              source: 'pushed',
            }
          : undefined,
    );
    return items;
  }

  /** An eminent author's newest top-level koos created after `sinceMs` and older than `before` (GSI by_creator). */
  private async pulledKoos(
    authorId: string,
    limit: number,
    sinceMs: number,
    before?: string,
  ): Promise<Item[]> {
    const untilMs = before ? Number(before.slice(0, before.indexOf('#'))) : Number.MAX_SAFE_INTEGER;
    const { items } = await queryUntil(
      this.dynamo,
      {
        TableName: this.options.contentTable,
        IndexName: 'by_creator',
        KeyConditionExpression: '#c = :c AND #ca BETWEEN :since AND :until',
        FilterExpression: 'attribute_not_exists(#p)',
        ExpressionAttributeNames: { '#c': A.creator, '#ca': A.createdAt, '#p': A.parent },
        ExpressionAttributeValues: { ':c': authorId, ':since': sinceMs, ':until': untilMs },
        ScanIndexForward: false,
      },
      limit,
      (i) => i,
    );
    return items;
  }
}
