import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  UpdateTableCommand,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { DeleteBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleLogicalId, tableLogicalId, templatePath } from '../../infra/aws/render.ts';
import { provisionTables } from '../../infra/provision.ts';
import { tableName, tables, type TableDefinition, type TableKey } from '../../schemas/tables.ts';
import { commonConfigSchema } from '../../shared/config/common.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { catalog } from '../../workers/catalog.ts';
import { runId } from '../support/ids.ts';
import { stackEnv } from '../support/stack-env.ts';

// infra/aws/koo-pipeline.template.json, checked by cfn-lint (installed with moto[server]) and
// deployed to moto's CloudFormation, which answers on the S3 server's port (moto serves every
// service on one port; the stack's DynamoDB is Dynoxide, which has no CloudFormation). The tables it creates must describe exactly as the ones infra/provision.ts
// creates locally. moto ignores some properties (TimeToLiveSpecification, the bucket's lifecycle and
// versioning) and the Glue database (not in its CloudFormation): the unit test and cfn-lint check
// those in the template; the TTL of provisioned tables is checked here.

const root = fileURLToPath(new URL('../../', import.meta.url));
const cfnLint = `${root}.stack/venv/bin/cfn-lint`;
const region = stackEnv.awsRegion;
const credentials = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'test',
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
};
const ddb = new DynamoDBClient({ endpoint: stackEnv.motoEndpoint, region, credentials });
// The bucket the stack creates lives in the moto server that ran CloudFormation.
const s3 = new S3Client({ endpoint: stackEnv.motoEndpoint, region, credentials, forcePathStyle: true });

const stackPrefix = 'itest-aws-template-';
const stackName = `${stackPrefix}${runId}`;
const deployedPrefix = `itest_cfn_${runId}_`;
const provisionedPrefix = `itest_prov_${runId}_`;
const bucket = `itest-cfn-lake-${runId}`;
const mskCluster =
  'arn:aws:kafka:ap-south-1:123456789012:cluster/koo-itest/0b2c3d4e-1111-2222-3333-444455556666-3';
const bodiesBucket = `itest-cfn-bodies-${runId}`;
const tableEntries = Object.entries(tables) as [TableKey, TableDefinition][];

/**
 * One call of an AWS Query API (CloudFormation, IAM) on moto. moto does not check signatures, but
 * takes the service and region from the credential scope of the Authorization header. (The SDK's
 * CloudFormation and IAM clients are not dependencies of the project.)
 */
async function queryApi(
  service: 'cloudformation' | 'iam',
  action: string,
  params: Record<string, string> = {},
): Promise<string> {
  const date = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  const res = await fetch(stackEnv.motoEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${date}/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: new URLSearchParams({
      Action: action,
      Version: service === 'iam' ? '2010-05-08' : '2010-05-15',
      ...params,
    }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${service} ${action}: HTTP ${res.status}: ${text.slice(0, 2000)}`);
  return text;
}

const cloudFormation = (action: string, params?: Record<string, string>) =>
  queryApi('cloudformation', action, params);

const xmlValues = (xml: string, tag: string): string[] =>
  [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]!);

/** A policy document in an IAM answer: XML-escaped, and URL-encoded as IAM does. */
function policyDocument(xml: string, tag: string) {
  const escaped = xmlValues(xml, tag)[0] ?? '';
  const text = escaped
    .replaceAll('&quot;', '"')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');
  return JSON.parse(text.startsWith('%7B') ? decodeURIComponent(text) : text);
}

async function stackStatus(name: string): Promise<string | undefined> {
  return xmlValues(await cloudFormation('DescribeStacks', { StackName: name }), 'StackStatus')[0];
}

async function deleteStack(name: string): Promise<void> {
  await cloudFormation('DeleteStack', { StackName: name });
}

/** Deletes a table the template made undeletable (deletion protection), if it is there. */
async function dropTable(name: string): Promise<void> {
  try {
    await ddb.send(new UpdateTableCommand({ TableName: name, DeletionProtectionEnabled: false }));
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return;
    throw err;
  }
  await ddb.send(new DeleteTableCommand({ TableName: name }));
}

/** What must be equal between two tables: keys, attributes, GSIs with projection, billing mode. */
function shape(t: TableDescription | undefined) {
  const byName = <T extends { AttributeName?: string; IndexName?: string }>(a: T[] = []) =>
    [...a].sort((x, y) =>
      (x.AttributeName ?? x.IndexName ?? '').localeCompare(y.AttributeName ?? y.IndexName ?? ''),
    );
  return {
    keySchema: t?.KeySchema,
    attributes: byName(t?.AttributeDefinitions),
    indexes: byName(t?.GlobalSecondaryIndexes).map((i) => ({
      IndexName: i.IndexName,
      KeySchema: i.KeySchema,
      Projection: i.Projection,
    })),
    billingMode: t?.BillingModeSummary?.BillingMode,
  };
}

describe('infra/aws/koo-pipeline.template.json', () => {
  let outputs = new Map<string, string>();
  let template: {
    Resources: Record<string, { Properties: { TimeToLiveSpecification?: { AttributeName: string } } }>;
  };

  beforeAll(async () => {
    template = JSON.parse(await readFile(templatePath, 'utf8'));
    // Stacks an interrupted run left behind hold the fixed-name IAM roles; delete them first.
    const listed = await cloudFormation('ListStacks');
    for (const name of new Set(xmlValues(listed, 'StackName')))
      if (name.startsWith(stackPrefix) && name !== stackName) {
        const status = await stackStatus(name).catch(() => undefined);
        if (status && !status.startsWith('DELETE')) await deleteStack(name).catch(() => undefined);
      }
    await provisionTables(
      loadConfig(commonConfigSchema, {
        AWS_REGION: region,
        DYNAMODB_ENDPOINT: stackEnv.motoEndpoint,
        TABLE_PREFIX: provisionedPrefix,
      }),
      createLogger('aws-template-test', 'warn'),
    );
  });

  afterAll(async () => {
    await deleteStack(stackName).catch(() => undefined);
    // moto leaves a deleted stack's managed policies behind (AWS deletes them with the stack).
    for (const entry of catalog)
      await queryApi('iam', 'DeletePolicy', {
        PolicyArn: `arn:aws:iam::123456789012:policy/${stackName}-${entry.name}`,
      }).catch(() => undefined);
    // Tables and the buckets are retained by the stack's deletion; remove them here.
    for (const [key] of tableEntries) {
      await dropTable(tableName(key, deployedPrefix));
      await dropTable(tableName(key, provisionedPrefix));
    }
    for (const b of [bucket, bodiesBucket])
      await s3.send(new DeleteBucketCommand({ Bucket: b })).catch(() => undefined);
    ddb.destroy();
    s3.destroy();
  });

  it('passes cfn-lint', async () => {
    expect(existsSync(cfnLint), `${cfnLint} (installed with moto by the stack's bootstrap)`).toBe(true);
    const result = await promisify(execFile)(cfnLint, [templatePath], { timeout: 60_000 }).then(
      (out) => ({ code: 0, output: out.stdout + out.stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code ?? 1,
        output: `${err.stdout ?? ''}${err.stderr ?? ''}`,
      }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('deploys: every table, both buckets, a role per catalog entry', async () => {
    const parameters: Record<string, string> = {
      TablePrefix: deployedPrefix,
      LakeBucketName: bucket,
      BodiesBucketName: bodiesBucket,
      Environment: 'itest',
      OidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.ap-south-1.amazonaws.com/id/ITEST',
      MskClusterArn: mskCluster,
    };
    const form: Record<string, string> = {
      StackName: stackName,
      TemplateBody: await readFile(templatePath, 'utf8'),
      'Capabilities.member.1': 'CAPABILITY_NAMED_IAM',
    };
    Object.entries(parameters).forEach(([key, value], i) => {
      form[`Parameters.member.${i + 1}.ParameterKey`] = key;
      form[`Parameters.member.${i + 1}.ParameterValue`] = value;
    });
    await cloudFormation('CreateStack', form);
    let status: string | undefined;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      status = await stackStatus(stackName);
      if (status !== 'CREATE_IN_PROGRESS') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe('CREATE_COMPLETE');

    const described = await cloudFormation('DescribeStacks', { StackName: stackName });
    const keys = xmlValues(described, 'OutputKey');
    const values = xmlValues(described, 'OutputValue');
    outputs = new Map(keys.map((k, i) => [k, values[i]!]));
    for (const entry of catalog)
      expect(outputs.get(`${roleLogicalId(entry.name)}Arn`)).toMatch(
        new RegExp(`^arn:aws:iam::\\d{12}:role/koo-pipeline-${entry.name}$`),
      );
    for (const [key] of tableEntries)
      expect(outputs.get(`${tableLogicalId(key)}Name`)).toBe(tableName(key, deployedPrefix));
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    await s3.send(new HeadBucketCommand({ Bucket: bodiesBucket }));
  });

  it('resolves the roles and policies: IRSA trust for the service account, ARNs of the stack tables', async () => {
    const role = await queryApi('iam', 'GetRole', { RoleName: 'koo-pipeline-feed' });
    const trust = policyDocument(role, 'AssumeRolePolicyDocument').Statement[0];
    const issuer = 'oidc.eks.ap-south-1.amazonaws.com/id/ITEST';
    expect(trust.Principal.Federated).toBe(`arn:aws:iam::123456789012:oidc-provider/${issuer}`);
    expect(trust.Condition.StringEquals).toEqual({
      [`${issuer}:sub`]: 'system:serviceaccount:koo-pipeline:koo-pipeline-feed',
      [`${issuer}:aud`]: 'sts.amazonaws.com',
    });

    const policyArn = outputs.get('FeedPolicyArn');
    expect(policyArn).toMatch(new RegExp(`:policy/${stackName}-feed$`));
    const policy = await queryApi('iam', 'GetPolicy', { PolicyArn: policyArn! });
    const version = await queryApi('iam', 'GetPolicyVersion', {
      PolicyArn: policyArn!,
      VersionId: xmlValues(policy, 'DefaultVersionId')[0]!,
    });
    const resources = (policyDocument(version, 'Document').Statement as { Resource: string }[]).map(
      (s) => s.Resource,
    );
    const arn = (key: TableKey) =>
      `arn:aws:dynamodb:${region}:123456789012:table/${tableName(key, deployedPrefix)}`;
    expect(resources.sort()).toEqual(
      [arn('graph'), arn('feed'), `${arn('content')}/index/by_creator`, arn('users')].sort(),
    );
  });

  it('gives a consumer role its MSK IAM policy: its group and topics, the dead letters', async () => {
    // moto's CloudFormation does not attach ManagedPolicyArns to the role: the output names the policy.
    const kafkaPolicyArn = outputs.get('ReactionsKafkaPolicyArn');
    expect(kafkaPolicyArn).toMatch(new RegExp(`:policy/${stackName}-reactions-kafka$`));
    const policy = await queryApi('iam', 'GetPolicy', { PolicyArn: kafkaPolicyArn! });
    const version = await queryApi('iam', 'GetPolicyVersion', {
      PolicyArn: kafkaPolicyArn!,
      VersionId: xmlValues(policy, 'DefaultVersionId')[0]!,
    });
    const resources = (
      policyDocument(version, 'Document').Statement as { Resource: string | string[] }[]
    ).flatMap((s) => s.Resource);
    const named = (kind: string, name: string) => mskCluster.replace(':cluster/', `:${kind}/`) + `/${name}`;
    expect(resources.sort()).toEqual(
      [
        mskCluster,
        named('topic', 'koo.reactions'),
        named('topic', 'koo.dlq'),
        named('group', 'koo-reactions'),
      ].sort(),
    );
  });

  it.each(tableEntries)(
    '%s: describes as provision.ts creates it, keys and GSIs as schemas/tables.ts says',
    async (key, def) => {
      const deployed = (
        await ddb.send(new DescribeTableCommand({ TableName: tableName(key, deployedPrefix) }))
      ).Table;
      const provisioned = (
        await ddb.send(new DescribeTableCommand({ TableName: tableName(key, provisionedPrefix) }))
      ).Table;
      expect(shape(deployed)).toEqual(shape(provisioned));
      expect(shape(deployed).billingMode).toBe('PAY_PER_REQUEST');
      expect(deployed?.KeySchema?.map((k) => k.AttributeName)).toEqual(
        [def.partitionKey, def.sortKey].flatMap((k) => (k ? [k.name] : [])),
      );
      expect(deployed?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort() ?? []).toEqual(
        def.indexes.map((i) => i.name).sort(),
      );
      expect(deployed?.DeletionProtectionEnabled).toBe(true);
      // moto's CloudFormation leaves TTL off: the template's setting must be what provision.ts sets.
      const ttl = await ddb.send(
        new DescribeTimeToLiveCommand({ TableName: tableName(key, provisionedPrefix) }),
      );
      const spec = template.Resources[tableLogicalId(key)]?.Properties.TimeToLiveSpecification;
      expect(spec?.AttributeName).toBe(ttl.TimeToLiveDescription?.AttributeName);
      expect(spec?.AttributeName).toBe(def.ttlAttribute);
      if (spec) expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
    },
  );
});
