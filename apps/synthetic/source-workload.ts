import type pg from 'pg';
import { Random, Zipf } from './random.ts';

/**
 * Writes app-like activity into the source database (PostgreSQL), from where Debezium carries
 * it to Kafka: users with power-law follower counts (the most followed are the eminent profiles),
 * koos in 20+ languages with Koo's skew, replies to recent koos, edits, renames and deletes.
 * Seeded, so a run can be repeated.
 */

// Share of koos per language: Hindi first, then English and the Indian languages, then the rest.
export const languageSkew: readonly (readonly [string, number])[] = [
  ['hi', 30],
  ['en', 18],
  ['kn', 8],
  ['ta', 6],
  ['te', 6],
  ['mr', 5],
  ['bn', 4],
  ['pt', 5],
  ['es', 3],
  ['gu', 2],
  ['ml', 2],
  ['pa', 2],
  ['or', 1],
  ['as', 1],
  ['ur', 1],
  ['ne', 1],
  ['fr', 1],
  ['de', 1],
  ['id', 1],
  ['ar', 1],
  ['yo', 0.5],
  ['ha', 0.5],
];

export interface WorkloadOptions {
  seed: number;
  users: number;
  koos: number;
  /** Accounts each user follows on average; followees are drawn by Zipf rank, so follower counts follow a power law. */
  followsPerUser?: number;
  /** Share of users, the most followed, marked eminent (their koos are merged at read time, not fanned out). */
  eminentShare?: number;
  /** Share of koos that reply to an earlier koo. */
  replyShare?: number;
  /** Share of koos edited once after creation. */
  editShare?: number;
  /** Share of koos deleted at the end. */
  deleteShare?: number;
  /** Share of users renamed at the end. */
  renameShare?: number;
  /** Rows per transaction. */
  batchSize?: number;
  /**
   * Spreads the koos' creation times over this many milliseconds before now, in the order they are
   * written (uneven gaps, as real traffic), so newest-first listings show times a reader can
   * check; unset = the database's now() for every row of a transaction.
   */
  createdOverMs?: number;
  /** Paces the koo inserts (rows per second); unset = as fast as the database takes them. */
  ratePerSecond?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface WorkloadResult {
  userIds: string[];
  kooIds: string[];
  deleted: string[];
  /** Change events Debezium will emit for it (a delete adds a tombstone record). */
  expectedRecords: number;
  languages: Map<string, number>;
}

export async function writeSourceWorkload(db: pg.Pool, o: WorkloadOptions): Promise<WorkloadResult> {
  const rnd = new Random(o.seed);
  const batch = o.batchSize ?? 200;
  const userIds = Array.from({ length: o.users }, () => rnd.id());
  const languages = new Map<string, number>();
  let records = 0;
  const insertMany = async (table: string, columns: string[], rows: unknown[][]) => {
    for (let i = 0; i < rows.length; i += batch) {
      const slice = rows.slice(i, i + batch);
      const values = slice
        .map((r, j) => `(${r.map((_, k) => `$${j * r.length + k + 1}`).join(',')})`)
        .join(',');
      await db.query(`insert into ${table} (${columns.join(',')}) values ${values}`, slice.flat());
      records += slice.length;
    }
  };
  // A user's index is their popularity rank: low indices are followed most and write most.
  const eminent = Math.max(1, Math.round(o.users * (o.eminentShare ?? 0.001)));
  await insertMany(
    'users',
    ['user_id', 'handle', 'display_name', 'is_eminent'],
    userIds.map((id, i) => [id, `user_${id}`, `User ${i}`, i < eminent]),
  );
  if (o.followsPerUser && o.users > 1) {
    const popularity = new Zipf(o.users, 1);
    const follows: unknown[][] = [];
    for (const [i, follower] of userIds.entries()) {
      const followees = new Set<number>();
      const want = Math.min(o.users - 1, Math.round(o.followsPerUser * 2 * rnd.next()));
      for (let tries = 0; followees.size < want && tries < want * 4; tries++) {
        const rank = popularity.rank(rnd);
        if (rank !== i) followees.add(rank);
      }
      for (const rank of followees) follows.push([follower, userIds[rank]!]);
    }
    await insertMany('follows', ['follower_id', 'followee_id'], follows);
  }

  const kooIds: string[] = [];
  const rows: unknown[][] = [];
  const createdAt = creationTimes(rnd, o.koos, o.createdOverMs);
  for (let i = 0; i < o.koos; i++) {
    const id = rnd.id();
    const lang = rnd.weighted(languageSkew);
    languages.set(lang, (languages.get(lang) ?? 0) + 1);
    // Replies go to recent koos, as conversations do.
    const parent =
      kooIds.length > 0 && rnd.next() < (o.replyShare ?? 0.2)
        ? kooIds[Math.max(0, kooIds.length - 1 - rnd.int(50))]!
        : null;
    const creator = userIds[Math.floor(userIds.length * rnd.next() ** 2)]!; // a few users write most koos
    const media = rnd.next() < 0.3 ? `s3://koo-media/${creator}/img_${rnd.int(1e6)}.jpg` : null;
    kooIds.push(id);
    rows.push([
      id,
      creator,
      parent,
      lang,
      `koo ${i} in ${lang}`,
      media,
      ...(createdAt ? [createdAt[i]] : []),
    ]);
  }
  const started = Date.now();
  for (let i = 0; i < rows.length; i += batch) {
    await insertMany(
      'koos',
      [
        'content_id',
        'creator_id',
        'parent_id',
        'lang',
        'body',
        'media_url',
        ...(createdAt ? ['created_at'] : []),
      ],
      rows.slice(i, i + batch),
    );
    o.onProgress?.(Math.min(rows.length, i + batch), rows.length);
    if (o.ratePerSecond) {
      const due = started + ((i + batch) / o.ratePerSecond) * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
  }
  // Edits, then renames: a share of the rows each, drawn in this order (the workload is reproducible by its seed).
  const updates = [
    {
      ids: kooIds,
      share: o.editShare,
      sql: `update koos set body = body || ' (edited)', updated_at = now() where content_id = any($1)`,
    },
    {
      ids: userIds,
      share: o.renameShare,
      sql: `update users set handle = handle || '_r', updated_at = now() where user_id = any($1)`,
    },
  ];
  for (const { ids, share, sql } of updates) {
    const chosen = ids.filter(() => rnd.next() < (share ?? 0));
    if (chosen.length > 0) records += (await db.query(sql, [chosen])).rowCount ?? 0;
  }
  const deleted = kooIds.filter(() => rnd.next() < (o.deleteShare ?? 0));
  if (deleted.length > 0) {
    const r = await db.query('delete from koos where content_id = any($1)', [deleted]);
    records += 2 * (r.rowCount ?? 0);
  }
  return { userIds, kooIds, deleted, expectedRecords: records, languages };
}

/** Increasing times over the last `spanMs`, with exponential gaps (arrivals of a Poisson process). */
export function creationTimes(rnd: Random, count: number, spanMs: number | undefined): Date[] | undefined {
  if (!spanMs || count === 0) return undefined;
  const gaps = Array.from({ length: count }, () => -Math.log(1 - rnd.next()));
  const total = gaps.reduce((a, b) => a + b, 0);
  const end = Date.now();
  let at = end - spanMs;
  return gaps.map((gap) => new Date((at += (gap / total) * spanMs)));
}
