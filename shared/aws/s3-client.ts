import { S3Client } from '@aws-sdk/client-s3';
import { stopSignal } from '../runtime/process-shutdown.ts';
import { localCredentials } from './credentials.ts';

/**
 * The one way the pipeline builds an S3 client. A set endpoint is the local stack's S3-API
 * server, which serves buckets by path; without one the SDK finds the regional endpoint.
 * Every request carries `stopSignal()`, as DynamoDB's do (dynamo-client.ts): once the work it
 * serves is stopped (shutdown, or a rebalance its member must rejoin) a request in flight is
 * aborted, its retries too, and none starts; the batch is redone by the partition's owner, and
 * the pipeline's S3 writes are conditional or idempotent. Without it a slow S3 held a lake
 * member's SIGTERM past its deadline.
 */
export function s3For(config: { AWS_REGION: string; S3_ENDPOINT?: string | undefined }): S3Client {
  const client = new S3Client({
    region: config.AWS_REGION,
    endpoint: config.S3_ENDPOINT,
    forcePathStyle: config.S3_ENDPOINT !== undefined,
    ...localCredentials(config.S3_ENDPOINT),
  });
  const send = client.send.bind(client) as (command: unknown, options?: object) => Promise<unknown>;
  client.send = ((command: unknown, options?: object) =>
    send(command, { abortSignal: stopSignal(), ...options })) as S3Client['send'];
  return client;
}
