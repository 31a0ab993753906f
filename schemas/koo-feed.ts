/**
 * Attribute names of koo_graph and koo_feed (short for the same reason as koo-content.ts).
 * Every key is a user id or a prefixed id, so the kinds of item below never collide.
 */

/** koo_graph: a user's partition holds whom they follow, who follows them, and the two counts. */
export const graphAttr = {
  userId: 'id', // partition key
  key: 'k', // sort key: `g#<followee>`, `r#<follower>`, or `#<partition>` for a share of the counts
  active: 'a', // 1 while following, 0 on an unfollow tombstone (following side only)
  version: 'v', // LSN of the last follows change applied to the edge (the fence)
  followedAt: 'ca', // epoch ms
  followers: 'fr', // on a `#…` item: its share of the follower count (the items' sum is exact)
  following: 'fg', // on a `#…` item: its share of the following count
  members: 'm', // on the pulled-authors registry item: string set of user ids
  expiresAt: 'ttl', // epoch seconds; unfollow tombstones only
} as const;

export const graphKey = {
  /** In the follower's partition: the canonical edge item, fenced by LSN (tombstone on unfollow). */
  following: (followeeId: string) => `g#${followeeId}`,
  /** In the followee's partition: a live follower (deleted on unfollow, so paging reads only live ones). */
  follower: (followerId: string) => `r#${followerId}`,
  /**
   * A user's counts are split over items `#<partition>`, one per follows-topic partition, each
   * written only by that partition's owner: a celebrity followed from every partition at once is
   * not one item that every member's transactions fight over (DynamoDB cancels a transaction
   * while another on one of its items is in flight). The sum of the `#…` items is the count; `#`
   * alone is where counts were kept before the split, still summed.
   */
  countShard: (partition: number) => `#${partition}`,
  countsPrefix: '#',
  /** Key of the pulled-authors registry's item, and of the readiness probe. */
  counts: '#',
  followingPrefix: 'g#',
  followerPrefix: 'r#',
  /** Partition of the registry of authors whose koos are pulled at read time instead of pushed. */
  pulledAuthors: '#pulled',
} as const;

/** koo_feed: a user's pushed feed entries, plus one fan-out record per koo. */
export const feedAttr = {
  userId: 'id', // partition key: the reader, or `fo#<contentId>` for a fan-out record
  key: 'k', // sort key: `<createdAt ms, 13 digits>#<contentId>` (time-ordered), `#` on a record
  author: 'a',
  contentId: 'c',
  expiresAt: 'ttl', // epoch seconds: entries expire FEED_TTL_DAYS after the koo's creation
  // Fan-out record (one per koo): what was done for it and how far, fenced by the koo's LSN.
  state: 's', // 'push' (fanning out), 'pushed', 'pulled' (eminent author), 'retract', 'retracted'
  version: 'v', // LSN of the koos change the record is about
  cursor: 'cur', // follower sort key after which the job resumes
  written: 'n', // entries written (or deleted) so far
} as const;

export const fanOutRecordId = (contentId: string) => `fo#${contentId}`;
