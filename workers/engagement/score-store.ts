import { contentAttr as A, engagementPairAttr as P } from '../../schemas/koo-content.ts';
import { batchGet, type Item } from '../../shared/dynamodb/batch-writer.ts';
import { transactWrite } from '../../shared/dynamodb/transact.ts';
import { buildUpdate } from '../../shared/dynamodb/update-expression.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import {
  pairItemOf,
  pairStateOf,
  type EngagedState,
  type EngagementStep,
  type ScoreWrite,
} from './decide.ts';
import { DynamoStore } from '../../shared/dynamodb/dynamo-store.ts';

/** What the worker reads and writes of a koo item: its language (for trending) and its score. */
export interface KooScoreItem {
  contentId: string;
  lang: string | undefined;
  score: number;
  landmarkMs: number;
  version: number;
  /** Deleted: kept out of trending. */
  retracted: boolean;
}

export function kooScoreItemOf(item: Item): KooScoreItem | undefined {
  if (item[A.scoreLandmark] === undefined) return undefined;
  return {
    contentId: item[A.contentId] as string,
    lang: item[A.lang] as string | undefined,
    score: item[A.score] as number,
    landmarkMs: item[A.scoreLandmark] as number,
    version: item[A.scoreVersion] as number,
    retracted: item[A.trendingRetracted] !== undefined,
  };
}

export interface ScoreTables {
  content: string;
  /** koo_engagement: the users' states of the koos. */
  pairs: string;
}

/**
 * The engagement worker's DynamoDB adapter on koo_content and koo_engagement: one BatchGetItem
 * per batch for the koos' scores and fences (and one for the users' states), then the koos'
 * steps packed into transactions (a lone step without users' states is an UpdateItem). A
 * condition that fails (another writer moved the landmark or the fence since the read) is a
 * retriable error: the runtime runs the batch again, reading again, and the fences drop what was
 * applied.
 */
export class ScoreStore extends DynamoStore<ScoreTables> {
  /** Whether DynamoDB answers (readiness), by recent answers or one probe of this table. */
  reachable(): Promise<boolean> {
    return this.dynamo.reachable(this.tables.content, { [A.contentId]: '__readyz__' });
  }

  /** The koos' items (language, score and the given fence only), keyed by content id; strongly consistent. */
  async read(ids: readonly string[], fenceAttr: string): Promise<Map<string, Item>> {
    const items = await batchGet(
      this.dynamo,
      this.tables.content,
      ids.map((id) => ({ [A.contentId]: id })),
      {
        keyAttributes: [A.contentId],
        concurrency: this.concurrency,
        projection: [
          A.contentId,
          A.lang,
          A.score,
          A.scoreLandmark,
          A.scoreVersion,
          A.trendingRetracted,
          fenceAttr,
        ],
      },
    );
    return new Map([...items.values()].map((item) => [item[A.contentId] as string, item]));
  }

  /** The stored states of (koo, user) pairs, by content id then user id; strongly consistent. */
  async readPairs(
    pairs: readonly { contentId: string; userId: string }[],
  ): Promise<Map<string, Map<string, EngagedState>>> {
    const items = await batchGet(
      this.dynamo,
      this.tables.pairs,
      pairs.map((p) => ({ [P.contentId]: p.contentId, [P.userId]: p.userId })),
      { keyAttributes: [P.contentId, P.userId], concurrency: this.concurrency },
    );
    const out = new Map<string, Map<string, EngagedState>>();
    for (const item of items.values()) {
      const id = item[P.contentId] as string;
      const users = out.get(id) ?? new Map<string, EngagedState>();
      users.set(item[P.userId] as string, pairStateOf(item));
      out.set(id, users);
    }
    return out;
  }

  /**
   * Applies planned steps of different koos, all or none. One step without users' states is one
   * UpdateItem that resolves with the koo's score after it; anything else is one transaction of
   * the scores and the states, which resolves with undefined (a transaction returns no item: the
   * caller reads the scores back).
   */
  async write(steps: readonly EngagementStep[], expiresAtSeconds: number): Promise<KooScoreItem | undefined> {
    if (steps.length === 1 && steps[0]!.pairs.length === 0) {
      const w = steps[0]!.score;
      const after = await this.dynamo.updateIf({ ...this.scoreUpdate(w), ReturnValues: 'ALL_NEW' });
      if (!after) throw moved(w.contentId);
      return kooScoreItemOf(after)!;
    }
    await transactWrite(
      this.dynamo,
      steps.flatMap(({ score, pairs }) => [
        { Update: this.scoreUpdate(score) },
        ...pairs.map((p) => ({
          Put: { TableName: this.tables.pairs, Item: pairItemOf(score.contentId, p, expiresAtSeconds) },
        })),
      ]),
      steps.length === 1 ? `score of ${steps[0]!.score.contentId}` : `scores of ${steps.length} koos`,
    );
    return undefined;
  }

  /** The conditional update of a koo's score: the fence (and the landmark or the write count) as read. */
  private scoreUpdate(w: ScoreWrite) {
    const { change, fence } = w;
    const retracted = w.retract ? { [A.trendingRetracted]: 1 } : {};
    const update = buildUpdate(
      change.kind === 'add'
        ? {
            set: { [A.scoreLandmark]: w.landmarkMs, [fence.attribute]: fence.to, ...retracted },
            add: { [A.score]: change.delta, [A.scoreVersion]: 1 },
          }
        : {
            set: {
              [A.score]: change.score,
              [A.scoreLandmark]: w.landmarkMs,
              [fence.attribute]: fence.to,
              ...retracted,
            },
            add: { [A.scoreVersion]: 1 },
          },
    );
    const names: Record<string, string> = { '#f': fence.attribute };
    const values: Record<string, number> = {};
    const conditions = [fence.from === undefined ? 'attribute_not_exists(#f)' : '#f = :f'];
    if (fence.from !== undefined) values[':f'] = fence.from;
    if (change.kind === 'add') {
      names['#lm'] = A.scoreLandmark;
      conditions.push(change.landmarkFrom === undefined ? 'attribute_not_exists(#lm)' : '#lm = :lm');
      if (change.landmarkFrom !== undefined) values[':lm'] = change.landmarkFrom;
    } else {
      names['#ev'] = A.scoreVersion;
      conditions.push(change.versionFrom === 0 ? 'attribute_not_exists(#ev)' : '#ev = :ev');
      if (change.versionFrom !== 0) values[':ev'] = change.versionFrom;
    }
    return {
      TableName: this.tables.content,
      Key: { [A.contentId]: w.contentId },
      ...update,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: { ...update.ExpressionAttributeNames, ...names },
      ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ...values },
    };
  }
}

function moved(contentId: string): KooError {
  return new KooError('SINK_UNAVAILABLE', `score of ${contentId} moved since it was read; reading again`, {
    retriable: true,
  });
}
