/**
 * Pure: how a feed page is put together from the user's pushed entries and the pulled koos of the
 * eminent authors they follow. Both streams are ordered by the same key (feedSortKey), so a page
 * is a merge by key, newest first, and the cursor is the key of the last item served.
 */
export interface FeedRef {
  sortKey: string;
  contentId: string;
  authorId: string;
  source: 'pushed' | 'pulled';
}

export interface FeedCursor {
  /** Items strictly older than this sort key come next. */
  before?: string;
  /** Pushed entries served so far: a feed shows at most its cap of them, even before a trim. */
  served: number;
}

/**
 * Newest first, each koo once (an author who became eminent may have a koo both pushed and
 * pulled), at most `limit`, only what is older than the cursor.
 */
export function mergeFeedRefs(
  streams: readonly (readonly FeedRef[])[],
  limit: number,
  before?: string,
): FeedRef[] {
  const byContent = new Map<string, FeedRef>();
  for (const ref of streams.flat()) {
    if (before !== undefined && ref.sortKey >= before) continue;
    if (!byContent.has(ref.contentId)) byContent.set(ref.contentId, ref);
  }
  return [...byContent.values()]
    .sort((a, b) => (a.sortKey < b.sortKey ? 1 : a.sortKey > b.sortKey ? -1 : 0))
    .slice(0, limit);
}

/** The cursor after a page: none when the page was not full (every stream ran out). */
export function nextFeedCursor(
  page: readonly FeedRef[],
  limit: number,
  cursor: FeedCursor,
): FeedCursor | undefined {
  if (page.length < limit) return undefined;
  return {
    before: page[page.length - 1]!.sortKey,
    served: cursor.served + page.filter((r) => r.source === 'pushed').length,
  };
}
