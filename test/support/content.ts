import { GetCommand } from '@aws-sdk/lib-dynamodb';
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

/** Creates a user and koos in the source database; times are explicit so order is known. */
export const sql = {
  insertUser: 'insert into users (user_id, handle, display_name, is_eminent) values ($1, $2, $3, $4)',
  insertKoo:
    'insert into koos (content_id, creator_id, parent_id, lang, body, media_url, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $7)',
};
