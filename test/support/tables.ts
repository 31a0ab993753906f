import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { provisionTables } from '../../infra/provision.ts';
import { tableName, tables, type TableKey } from '../../schemas/tables.ts';
import { commonConfigSchema } from '../../shared/config/common.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { stackEnv, testDynamo } from './stack-env.ts';

/**
 * Every table under a prefix of the file's own (TABLE_PREFIX), made as `npm run provision` makes
 * them before the file and dropped after it: for a test whose workers run with settings that show
 * in items other groups' workers also write (the feed's fan-out records hold what a koo's fan-out
 * came to, which depends on FEED_EMINENT_FOLLOWERS), so that files beside it neither see nor
 * change them.
 */
export function privateTables(prefix: string): void {
  beforeAll(async () => {
    await provisionTables(
      loadConfig(commonConfigSchema, {
        AWS_REGION: stackEnv.awsRegion,
        DYNAMODB_ENDPOINT: stackEnv.dynamodbEndpoint,
        TABLE_PREFIX: prefix,
      }),
      createLogger('private-tables', 'warn'),
    );
  });
  afterAll(() => dropTables(prefix));
}

/** Drops every table under a prefix, those that are there (a test's tables, after it). */
export async function dropTables(prefix: string): Promise<void> {
  const dynamo = testDynamo();
  try {
    for (const key of Object.keys(tables) as TableKey[])
      await dynamo.doc
        .send(new DeleteTableCommand({ TableName: tableName(key, prefix) }))
        .catch(() => undefined);
  } finally {
    dynamo.destroy();
  }
}
