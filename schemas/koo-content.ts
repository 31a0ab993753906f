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
  body: 't',
  mediaKey: 'm', // S3_LOCATION shortened to the object name; URI = s3://<MEDIA_BUCKET>/<creator>/<m>
  mediaUri: 'mu', // the full URI, only when it is not of that derivable form
  version: 'v', // source LSN of the last change applied (the fence)
  deleted: 'x', // 1 on a delete tombstone (keeps id, p, sp, v so late replies and replays resolve)
  expiresAt: 'ttl', // epoch seconds; tombstones only
  pendingChildren: 'pc', // replies waiting for this koo's super-parent (string set)
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
  pendingKoos: 'pk', // koos written before this user's row arrived, waiting for the handle (string set)
} as const;
