/**
 * Local DynamoDB/S3 servers accept any credentials, but the SDK insists on having some. Where an
 * endpoint is set and the environment has none, placeholders are used; in production (no
 * endpoint) the SDK's default provider chain (IRSA, instance role, env) applies.
 */
export function localCredentials(endpoint: string | undefined): {
  credentials?: { accessKeyId: string; secretAccessKey: string };
} {
  return endpoint && !process.env.AWS_ACCESS_KEY_ID
    ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
    : {};
}
