import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { contentAttr as A } from '../../schemas/koo-content.ts';
import { tableName } from '../../schemas/tables.ts';
import { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import type { Item } from '../../shared/dynamodb/batch-writer.ts';
import { bodyStoreFor, type BodyStore } from '../../workers/content/body-store.ts';
import { ContentQueries } from '../../workers/content/queries.ts';
import { stackEnv, testDynamo } from './stack-env.ts';

/** The stack's bucket of koo bodies too large for an item (provisioned with the lake's). */
export function testBodyStore(): BodyStore {
  return bodyStoreFor({
    AWS_REGION: stackEnv.awsRegion,
    S3_ENDPOINT: stackEnv.s3Endpoint,
    BODY_BUCKET: process.env.BODY_BUCKET ?? 'koo-bodies',
  });
}

export function contentReadPath(): {
  dynamo: Dynamo;
  queries: ContentQueries;
  rawItem: (id: string) => Promise<Item | undefined>;
} {
  const dynamo = testDynamo();
  const queries = new ContentQueries(dynamo, {
    contentTable: tableName('content'),
    mediaBucket: 'koo-media',
    bodies: testBodyStore(),
  });
  const rawItem = async (id: string) =>
    (
      await dynamo.call('GetItem', (doc) =>
        doc.send(new GetCommand({ TableName: tableName('content'), Key: { id }, ConsistentRead: true })),
      )
    ).Item;
  return { dynamo, queries, rawItem };
}

// What the reactions and engagement workers write on a koo's item (their groups in other files
// count the koos of this one too, when they run side by side).
const otherWorkersAttributes = new Set<string>([
  A.likes,
  A.shares,
  A.rekoos,
  A.reactionsOffset,
  A.reactionsPartition,
  A.score,
  A.scoreLandmark,
  A.scoreVersion,
  A.trendingRetracted,
]);

/** A koo's item as the content worker wrote it: without the counters and the score. */
export function contentWorkerAttributes(item: Item | undefined): Item | undefined {
  return (
    item &&
    Object.fromEntries(
      Object.entries(item).filter(
        ([name]) => !otherWorkersAttributes.has(name) && !name.startsWith(A.scoreFencePrefix),
      ),
    )
  );
}

/** Creates a user and koos in the source database; times are explicit so order is known. */
export const sql = {
  insertUser: 'insert into users (user_id, handle, display_name, is_eminent) values ($1, $2, $3, $4)',
  insertKoo:
    'insert into koos (content_id, creator_id, parent_id, lang, body, media_url, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $7)',
};
