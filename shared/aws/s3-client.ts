import { S3Client } from '@aws-sdk/client-s3';
import { localCredentials } from './credentials.ts';

/**
 * The one way the pipeline builds an S3 client. A set endpoint is the local stack's S3-API
 * server, which serves buckets by path; without one the SDK finds the regional endpoint.
 */
export function s3For(config: { AWS_REGION: string; S3_ENDPOINT?: string | undefined }): S3Client {
  return new S3Client({
    region: config.AWS_REGION,
    endpoint: config.S3_ENDPOINT,
    forcePathStyle: config.S3_ENDPOINT !== undefined,
    ...localCredentials(config.S3_ENDPOINT),
  });
}
