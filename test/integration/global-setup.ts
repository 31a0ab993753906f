import { stackEnv } from '../support/stack-env.ts';

// Integration tests need the local stack; fail fast with the command that starts it.
export default async function checkStack(): Promise<void> {
  const probes: Array<[string, string]> = [
    ['dynamodb', stackEnv.dynamodbEndpoint],
    ['s3', stackEnv.s3Endpoint],
    ['registry', `${stackEnv.schemaRegistryUrl}/subjects`],
  ];
  for (const [name, url] of probes) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(15_000) });
    } catch (err) {
      throw new Error(
        `the local stack is not up (${name} at ${url}: ${String(err)}); run 'npm run stack -- up'`,
        {
          cause: err,
        },
      );
    }
  }
}
