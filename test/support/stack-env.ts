import { loadConfig } from '../../shared/config/load-config.ts';
import { Dynamo } from '../../shared/dynamodb/dynamo-client.ts';
import { sourceDatabaseConfigSchema } from '../../shared/config/source-database.ts';

// Endpoints of the local stack (infra/stack/lib.sh sets the same defaults), overridable by the
// same environment variables the workers read.
export const stackEnv = {
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  schemaRegistryUrl: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  connectUrl: process.env.KAFKA_CONNECT_URL ?? 'http://127.0.0.1:8083',
  dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000',
  s3Endpoint: process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000',
  /** moto, which serves the S3 API and every other AWS API on one port (CloudFormation, IAM). */
  motoEndpoint: process.env.MOTO_ENDPOINT ?? process.env.S3_ENDPOINT ?? 'http://127.0.0.1:9000',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  pgUrl: loadConfig(sourceDatabaseConfigSchema).PG_URL,
  awsRegion: process.env.AWS_REGION ?? 'ap-south-1',
};

/** The shared DynamoDB client on the stack's endpoint, as a test reads and seeds views with it. */
export function testDynamo(retryMaxMs = 5_000): Dynamo {
  return new Dynamo({ region: stackEnv.awsRegion, endpoint: stackEnv.dynamodbEndpoint, retryMaxMs });
}
