import { contentAttr as A } from '../../schemas/koo-content.ts';
import { batchGet, type Item } from '../../shared/dynamodb/batch-writer.ts';
import type { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { buildUpdate } from '../../shared/dynamodb/update-expression.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import type { ScoreWrite } from './decide.ts';

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

/**
 * The engagement worker's DynamoDB adapter on koo_content: one BatchGetItem per batch for the
 * koos' scores and fences, one conditional UpdateItem per koo written. A condition that fails
 * (another writer moved the landmark or the fence since the read) is a retriable error: the
 * runtime runs the batch again, reading again, and the fences drop what was applied.
 */
export class ScoreStore {
  readonly table: string;
  private readonly dynamo: Dynamo;
  private readonly concurrency: number;

  constructor(dynamo: Dynamo, table: string, concurrency: number) {
    this.dynamo = dynamo;
    this.table = table;
    this.concurrency = concurrency;
  }

  /** The koos' items (language, score and the given fence only), keyed by content id; strongly consistent. */
  /** Whether DynamoDB answers (readiness), by recent answers or one probe of this table. */
  reachable(): Promise<boolean> {
    return this.dynamo.reachable(this.table, { [A.contentId]: '__readyz__' });
  }

  async read(ids: readonly string[], fenceAttr: string): Promise<Map<string, Item>> {
    const items = await batchGet(
      this.dynamo,
      this.table,
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

  /** Applies a planned write; resolves with the koo's score after it. */
  async write(w: ScoreWrite): Promise<KooScoreItem> {
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
    const after = await this.dynamo.updateIf({
      TableName: this.table,
      Key: { [A.contentId]: w.contentId },
      ...update,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: { ...update.ExpressionAttributeNames, ...names },
      ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ...values },
      ReturnValues: 'ALL_NEW',
    });
    if (!after)
      throw new KooError(
        'SINK_UNAVAILABLE',
        `score of ${w.contentId} moved since it was read; reading again`,
        {
          retriable: true,
        },
      );
    return kooScoreItemOf(after)!;
  }
}
