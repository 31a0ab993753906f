/**
 * Attribute names of the DynamoDB views. Names are short because DynamoDB bills an item by
 * the length of its attribute names as well as its values (the seed's cost advice); this map is
 * the only place the long names are spelled out (schemas/README.md documents it for readers).
 */
export const contentAttr = {
  contentId: 'id', // CONTENT_ID, partition key
  parent: 'p', // PARENT: content id this koo replies to
  superParent: 'sp', // SUPER_PARENT: root of the thread (absent on a root, and until resolved)
  creator: 'c', // CREATOR: user id; partition key of GSI by_creator
  creatorHandle: 'h', // creator's handle, joined from users
  handleVersion: 'hv', // LSN of the users row the handle came from (fences handle updates)
  lang: 'l',
  langGroup: 'lg', // LANG_GROUP = lang#YYYY-MM-DD (UTC day); partition key of GSI by_lang
  createdAt: 'ca', // CREATED_AT, epoch ms; sort key of both GSIs
  updatedAt: 'ua', // epoch ms
  body: 't', // the text, when at most BODY_INLINE_MAX_BYTES (UTF-8)
  bodyKey: 'tk', // else the key of the text in BODY_BUCKET (<content id>/<lsn>), and no t
  mediaKey: 'm', // S3_LOCATION shortened to the object name; URI = s3://<MEDIA_BUCKET>/<creator>/<m>
  mediaUri: 'mu', // the full URI, only when it is not of that derivable form
  version: 'v', // source LSN of the last change applied (the fence)
  deleted: 'x', // 1 on a delete tombstone (keeps id, p, sp, v so late replies and replays resolve)
  expiresAt: 'ttl', // epoch seconds; tombstones only
  pendingChildren: 'pc', // replies waiting for this koo's super-parent, as kept before koo_pending (string set; drained, never added to)
  waitedOn: 'pw', // 1 while replies may wait in koo_pending (`c#<id>`) for this koo's super-parent
  // Reaction counters, written only by the reactions worker (exact: see workers/reactions).
  likes: 'rl',
  shares: 'rs',
  rekoos: 'rr',
  reactionsOffset: 'ro', // koo.reactions offset of the last reaction counted (the counters' fence)
  reactionsPartition: 'rp', // the koo.reactions partition that offset is of: reactions from another one are dead-lettered
  // Engagement score, written only by the engagement worker (see workers/engagement).
  score: 'es', // forward-decayed score relative to the landmark: sum of w * 2^((t - lm) / half-life)
  scoreLandmark: 'lm', // the landmark, epoch ms (a whole number of half-lives, so a re-base is exact)
  scoreVersion: 'ev', // count of score writes: the optimistic lock of a landmark move
  scoreFencePrefix: 'ef', // ef<r|k><partition>: last source offset applied to es per topic partition
  trendingRetracted: 'et', // 1 once the koo was deleted: it never trends again, whatever reactions still arrive
} as const;

export const userAttr = {
  userId: 'id',
  handle: 'h',
  displayName: 'n',
  eminent: 'e',
  createdAt: 'ca',
  version: 'v',
  deleted: 'x',
  expiresAt: 'ttl',
  pendingKoos: 'pk', // koos waiting for the handle, as kept before koo_pending (string set; drained, never added to)
  waitedOn: 'pw', // 1 while koos may wait in koo_pending (`u#<id>`) for this user's handle
  propagatedHandle: 'ph', // the handle every koo of the user was given; a rename propagates while h differs
} as const;

/** koo_reactions: one item per koo and user who reacted to it (who reacted how). */
export const reactionAttr = {
  contentId: 'id', // partition key: a koo's reactions are one item collection, paged by user
  userId: 'u', // sort key: "did user X react" is one GetItem
  flags: 'f', // bit set: 1 liked, 2 shared, 4 rekooed; 0 on a tombstone (an unliked like)
  likeTime: 'lt', // event time of the like or unlike that decides the like bit (latest wins)
  likeOffset: 'lo', // its offset in the koo's partition: of events of the same millisecond, the later in the log wins
  reactedAt: 'at', // latest event time among the user's reactions to the koo, epoch ms
  offset: 'o', // the counters' fence value that counts this state (the batch's last offset of the koo)
  countedFlags: 'pf', // flags the counters held for this user before that batch (used until the fence reaches o)
  expiresAt: 'ttl', // epoch seconds; tombstones only
} as const;

/**
 * koo_engagement: one item per koo and user who reacted to it, the engagement worker's own copy of
 * the reactions' state (the score counts a state change, never a repeated record).
 */
export const engagementPairAttr = {
  contentId: 'id', // partition key
  userId: 'u', // sort key
  flags: 'f', // bit set as in koo_reactions: 1 liked, 2 shared, 4 rekooed
  likeTime: 'lt', // event time of the like or unlike that decides the like bit
  likeOffset: 'lo', // its offset: of two in the same millisecond, the later in the log wins
  sharedAt: 'st', // event time of the user's earliest share of the koo (it weighs a share then)
  rekooedAt: 'kt', // event time of the earliest rekoo
  repliedAt: 'pt', // under u = reply#<reply id>: the reply's creation time (it weighs a reply then)
  expiresAt: 'ttl', // epoch seconds; tombstones only
} as const;

/** koo_trending: one item per trending sorted set (a language, or `*` for all), its snapshot. */
export const trendingAttr = {
  key: 'k', // partition key: the set's Redis key (TRENDING_KEY_PREFIX + trending: + language or *)
  members: 'm', // map content id → trending rank (log2 of the score relative to the Unix epoch)
  snapshotAt: 'at', // epoch ms of the snapshot
} as const;

/**
 * koo_pending: what waits for an item that has not arrived or is not resolved yet, one item per
 * waiting koo, so that a wait of any length fits (a string set on the awaited item stops at
 * DynamoDB's 400 KB: about 25,000 ids of 16 characters, which a catch-up can pass).
 */
export const pendingAttr = {
  waitsFor: 'id', // partition key: `c#<contentId>` (replies waiting for its super-parent) or `u#<userId>` (koos waiting for the handle)
  member: 'm', // sort key: the waiting koo's id
} as const;

export const pendingKey = {
  children: (contentId: string) => `c#${contentId}`,
  koos: (userId: string) => `u#${userId}`,
} as const;
