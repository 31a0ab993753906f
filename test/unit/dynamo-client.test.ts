import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { KooError, isRetriable } from '../../shared/errors/koo-error.ts';

// What the SDK throws for an error DynamoDB answered without a modelled type of its own.
const dynamoError = (name: string, message: string) =>
  new DynamoDBServiceException({ name, message, $fault: 'client', $metadata: { httpStatusCode: 400 } });

describe('the shared DynamoDB client', () => {
  const dynamo = new Dynamo({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', retryMaxMs: 100 });

  it('names an item over the 400 KB limit ITEM_TOO_LARGE, not retried (the record goes to the DLQ with it)', async () => {
    let attempts = 0;
    const failure = await dynamo
      .call('UpdateItem', async () => {
        attempts++;
        throw dynamoError('ValidationException', 'Item size to update has exceeded the maximum allowed size');
      })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(KooError);
    expect((failure as KooError).code).toBe('ITEM_TOO_LARGE');
    expect(isRetriable(failure)).toBe(false);
    expect(attempts).toBe(1);
  });

  it('passes other refusals through as DynamoDB gave them', async () => {
    const failure = await dynamo
      .call('PutItem', async () => {
        throw dynamoError('ValidationException', 'One or more parameter values were invalid');
      })
      .catch((e: unknown) => e);
    expect(failure).not.toBeInstanceOf(KooError);
    expect((failure as Error).name).toBe('ValidationException');
  });
});
