import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { contentAttr as A } from '../../schemas/koo-content.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';
import { DynamoQueries } from '../../shared/dynamodb/dynamo-store.ts';
import { scoreAt, type DecaySettings } from './decay.ts';
import type { TrendingKoo, TrendingStore } from './trending-store.ts';
import { projectionOf } from '../../shared/dynamodb/update-expression.ts';

export interface KooScore {
  contentId: string;
  /** Decayed to `at`; 0 for a koo without engagement. */
  score: number;
  at: string;
}

/**
 * A koo item's engagement score decayed to `nowMs` (0 without engagement): the stored score is
 * relative to its landmark and means nothing alone. Every read that shows a score uses this.
 */
export function kooScoreAt(item: Item | undefined, nowMs: number, decay: DecaySettings): number {
  const landmark = item?.[A.scoreLandmark] as number | undefined;
  return landmark === undefined ? 0 : scoreAt(item![A.score] as number, landmark, nowMs, decay);
}

export interface EngagementQueryOptions {
  contentTable: string;
  trending: TrendingStore;
  decay: DecaySettings;
  /** Epoch ms; tests move time with it. */
  now?: () => number;
}

/** The engagement read path: a koo's current score, and trending koos per language. */
export class EngagementQueries extends DynamoQueries<EngagementQueryOptions> {
  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  async score(contentId: string): Promise<KooScore> {
    const nowMs = this.now();
    const out = await this.dynamo.call('GetItem', (doc) =>
      doc.send(
        new GetCommand({
          TableName: this.options.contentTable,
          Key: { [A.contentId]: contentId },
          ...projectionOf([A.score, A.scoreLandmark]),
        }),
      ),
    );
    return {
      contentId,
      score: kooScoreAt(out.Item, nowMs, this.options.decay),
      at: new Date(nowMs).toISOString(),
    };
  }

  /** Trending koos of a language (`*` for all), best first, with their current scores. */
  trendingKoos(lang: string, limit = 20): Promise<TrendingKoo[]> {
    return this.options.trending.top(lang, limit, this.now());
  }
}
