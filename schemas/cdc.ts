import { z } from 'zod';

/**
 * Rows of the relational source (infra/sql/schema.sql) as Debezium emits them: the single
 * source of the CDC row types, their validation, and (through the lake worker) their columns.
 * Debezium writes timestamptz as an ISO-8601 string (io.debezium.time.ZonedTimestamp);
 * `timestamp` accepts that or epoch microseconds and yields epoch milliseconds; its `lakeType`
 * makes it a Parquet timestamp column (every other column type follows from the zod type).
 * `distinct` marks fields whose values seldom repeat from row to row (keys, free text): the lake
 * stores them without a dictionary, which for such values only adds bytes.
 * A column with a `.default` is one the views can do without: should the source drop it, its rows
 * read as the default instead of going to the DLQ (every other column is needed by a view, and a
 * row without it is dead-lettered naming it). Columns the source adds pass unnoticed here (zod
 * drops them); the lake keeps them (workers/lake/columns.ts).
 */
const id = z.string().min(1).max(64);
const primaryKey = id.meta({ distinct: true });
const timestamp = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const ms = typeof v === 'number' ? Math.floor(v / 1000) : Date.parse(v);
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: `not a timestamp: ${String(v)}` });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ lakeType: 'timestamp' });

export const userRowSchema = z.object({
  user_id: primaryKey,
  handle: z.string().min(1).max(64).meta({ distinct: true }),
  display_name: z.string(),
  is_eminent: z.boolean().default(false),
  created_at: timestamp,
  updated_at: timestamp,
});
export type UserRow = z.infer<typeof userRowSchema>;

export const kooRowSchema = z.object({
  content_id: primaryKey,
  creator_id: id,
  parent_id: id.nullable(),
  lang: z.string().min(2).max(16),
  body: z.string().meta({ distinct: true }),
  media_url: z.string().meta({ distinct: true }).nullable().default(null),
  created_at: timestamp,
  updated_at: timestamp,
});
export type KooRow = z.infer<typeof kooRowSchema>;

export const followRowSchema = z.object({
  follower_id: id,
  followee_id: id,
  created_at: timestamp,
});
export type FollowRow = z.infer<typeof followRowSchema>;

export const cdcTables = {
  users: userRowSchema,
  koos: kooRowSchema,
  follows: followRowSchema,
} as const;
export type CdcTable = keyof typeof cdcTables;
