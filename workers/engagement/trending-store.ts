import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Redis } from 'ioredis';
import { trendingAttr as T } from '../../schemas/koo-content.ts';
import { batchWrite } from '../../shared/dynamodb/batch-writer.ts';
import type { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { metrics } from '../../shared/metrics/metrics.ts';
import { rankOfScore, scoreOfRank, trendingRank, type DecaySettings } from './decay.ts';
import type { KooScoreItem } from './score-store.ts';

/** The key of the trending set across languages. */
export const ALL_LANGUAGES = '*';

export interface TrendingParts {
  redis: Redis;
  dynamo: Dynamo;
  /** Prefix of every Redis key (one per deployment, or per test run). */
  keyPrefix: string;
  /** koo_trending, where the sets are snapshotted. */
  snapshotTable: string;
  /** Members kept per set. */
  topK: number;
  /** Koos whose decayed score is below it leave the sets. */
  minScore: number;
  decay: DecaySettings;
}

export interface TrendingKoo {
  contentId: string;
  score: number;
}

/**
 * Trending koos per language (and across languages) as Redis sorted sets, ranked by
 * log2(score) relative to the Unix epoch (decay.ts: the order never changes with time, so a
 * member is written only when its koo's score changes). Each write trims the set to the top K
 * and drops members whose score decayed below the threshold. Sets are snapshotted to
 * koo_trending; a set found missing (Redis lost it) is restored from its snapshot before it is
 * read or written, members added meanwhile by a worker winning over the snapshot's.
 */
export class TrendingStore {
  private readonly parts: TrendingParts;

  constructor(parts: TrendingParts) {
    this.parts = parts;
  }

  private key(lang: string): string {
    return `${this.parts.keyPrefix}trending:${lang}`;
  }

  private get languagesKey(): string {
    return `${this.parts.keyPrefix}trending-languages`;
  }

  /** Puts the koos' current scores in their language's set and the overall one, then trims both. */
  async apply(koos: readonly KooScoreItem[], nowMs: number): Promise<void> {
    if (koos.length === 0) return;
    const langs = [...new Set(koos.flatMap((k) => (k.lang ? [k.lang] : [])))];
    await this.restoreMissing([ALL_LANGUAGES, ...langs]);
    // A deleted koo's item no longer names its language: it leaves every language's set.
    const everyLanguage = koos.some((k) => k.retracted)
      ? [...new Set([...langs, ...(await this.parts.redis.smembers(this.languagesKey))])]
      : [];
    const pipeline = this.parts.redis.pipeline();
    for (const koo of koos) {
      const rank = koo.retracted ? undefined : trendingRank(koo.score, koo.landmarkMs, this.parts.decay);
      const keys = [ALL_LANGUAGES, ...(koo.retracted ? everyLanguage : koo.lang ? [koo.lang] : [])].map((l) =>
        this.key(l),
      );
      for (const key of keys) {
        if (rank === undefined) pipeline.zrem(key, koo.contentId);
        else pipeline.zadd(key, rank, koo.contentId);
      }
    }
    if (langs.length > 0) pipeline.sadd(this.languagesKey, ...langs);
    const floor = rankOfScore(this.parts.minScore, nowMs, this.parts.decay);
    for (const lang of [ALL_LANGUAGES, ...langs]) {
      pipeline.zremrangebyrank(this.key(lang), 0, -(this.parts.topK + 1));
      pipeline.zremrangebyscore(this.key(lang), '-inf', `(${floor}`);
    }
    await this.exec('apply', pipeline);
  }

  /** The top koos of a language (or ALL_LANGUAGES) with their scores at `nowMs`, best first. */
  async top(lang: string, limit: number, nowMs: number): Promise<TrendingKoo[]> {
    await this.restoreMissing([lang]);
    const floor = rankOfScore(this.parts.minScore, nowMs, this.parts.decay);
    metrics.redisRequests.inc({ operation: 'zrevrangebyscore' });
    const flat = await this.parts.redis.zrevrangebyscore(
      this.key(lang),
      '+inf',
      floor,
      'WITHSCORES',
      'LIMIT',
      0,
      limit,
    );
    const out: TrendingKoo[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      out.push({ contentId: flat[i]!, score: scoreOfRank(Number(flat[i + 1]), nowMs, this.parts.decay) });
    }
    return out;
  }

  /** Writes every set to koo_trending (one item per language), restoring lost sets first so an empty set never overwrites a snapshot. */
  async snapshot(nowMs: number): Promise<number> {
    metrics.redisRequests.inc({ operation: 'smembers' });
    const langs = [ALL_LANGUAGES, ...(await this.parts.redis.smembers(this.languagesKey))];
    await this.restoreMissing(langs);
    const pipeline = this.parts.redis.pipeline();
    for (const lang of langs) pipeline.zrange(this.key(lang), '0', '-1', 'WITHSCORES');
    const results = await this.exec('snapshot', pipeline);
    const items = langs.map((lang, i) => {
      const flat = results[i] as string[];
      const members: Record<string, number> = {};
      for (let j = 0; j < flat.length; j += 2) members[flat[j]!] = Number(flat[j + 1]);
      return { put: { [T.key]: this.key(lang), [T.members]: members, [T.snapshotAt]: nowMs } };
    });
    await batchWrite(this.parts.dynamo, this.parts.snapshotTable, items, { keyAttributes: [T.key] });
    return items.length;
  }

  /** Restores each set that Redis does not have from its snapshot (members present win). */
  async restoreMissing(langs: readonly string[]): Promise<void> {
    const check = this.parts.redis.pipeline();
    for (const lang of langs) check.exists(this.key(lang));
    const exists = await this.exec('exists', check);
    const missing = langs.filter((_, i) => exists[i] === 0);
    for (const lang of missing) {
      const members = Object.entries(await this.snapshotOf(lang));
      if (members.length === 0) continue;
      metrics.redisRequests.inc({ operation: 'restore' });
      await this.parts.redis.zadd(this.key(lang), 'NX', ...members.flatMap(([id, rank]) => [rank, id]));
      if (lang !== ALL_LANGUAGES) await this.parts.redis.sadd(this.languagesKey, lang);
    }
  }

  /** The last snapshot of a set: trending rank per content id (empty when there is none). */
  async snapshotOf(lang: string): Promise<Record<string, number>> {
    const out = await this.parts.dynamo.call('GetItem', (doc) =>
      doc.send(
        new GetCommand({
          TableName: this.parts.snapshotTable,
          Key: { [T.key]: this.key(lang) },
          ConsistentRead: true,
        }),
      ),
    );
    return (out.Item?.[T.members] as Record<string, number> | undefined) ?? {};
  }

  private async exec(operation: string, pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
    metrics.redisRequests.inc({ operation });
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0]!;
    return results.map(([, value]) => value);
  }
}
