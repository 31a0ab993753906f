import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { contentAttr as A } from '../../schemas/koo-content.ts';
import type { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { scoreAt, type DecaySettings } from './decay.ts';
import type { TrendingKoo, TrendingStore } from './trending-store.ts';

export interface KooScore {
  contentId: string;
  /** Decayed to `at`; 0 for a koo without engagement. */
  score: number;
  at: string;
}

/** The engagement read path: a koo's current score, and trending koos per language. `now` is injectable so tests can move time. */
export class EngagementQueries {
  private readonly dynamo: Dynamo;
  private readonly contentTable: string;
  private readonly trending: TrendingStore;
  private readonly decay: DecaySettings;
  private readonly now: () => number;

  constructor(
    dynamo: Dynamo,
    contentTable: string,
    trending: TrendingStore,
    decay: DecaySettings,
    now: () => number = Date.now,
  ) {
    this.dynamo = dynamo;
    this.contentTable = contentTable;
    this.trending = trending;
    this.decay = decay;
    this.now = now;
  }

  async score(contentId: string): Promise<KooScore> {
    const nowMs = this.now();
    const out = await this.dynamo.call('GetItem', (doc) =>
      doc.send(
        new GetCommand({
          TableName: this.contentTable,
          Key: { [A.contentId]: contentId },
          ProjectionExpression: '#s, #l',
          ExpressionAttributeNames: { '#s': A.score, '#l': A.scoreLandmark },
        }),
      ),
    );
    const landmark = out.Item?.[A.scoreLandmark] as number | undefined;
    const score =
      landmark === undefined ? 0 : scoreAt(out.Item![A.score] as number, landmark, nowMs, this.decay);
    return { contentId, score, at: new Date(nowMs).toISOString() };
  }

  /** Trending koos of a language (`*` for all), best first, with their current scores. */
  trendingKoos(lang: string, limit = 20): Promise<TrendingKoo[]> {
    return this.trending.top(lang, limit, this.now());
  }
}
