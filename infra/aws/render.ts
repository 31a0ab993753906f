/**
 * Renders infra/aws/koo-pipeline.template.json, the CloudFormation template of what the pipeline
 * needs on AWS, from the definitions the code runs on:
 * - schemas/tables.ts: every DynamoDB table with its keys, GSIs (projection ALL, as
 *   infra/provision.ts creates them locally) and TTL attribute;
 * - workers/catalog.ts and infra/aws/worker-access.ts: per deployable process, a least-privilege
 *   IAM managed policy and an IRSA role `koo-pipeline-<name>` for the Kubernetes service account of
 *   the same name;
 * - the S3 bucket of the Parquet lake (workers/lake), the Glue database of its Iceberg tables, and
 *   the bucket of koo bodies too large for an item (workers/content).
 *
 *   node infra/aws/render.ts           writes the template
 *   node infra/aws/render.ts --check   exits 1, naming the first difference, when the file is stale
 *
 * Choices, and why:
 * - Tables are on-demand (PAY_PER_REQUEST), like provision.ts: Koo's traffic is spiky (a match, an
 *   election result, a celebrity koo multiply reactions and fan-out within minutes), and so are the
 *   workers themselves (a replay or a backlog after a deploy writes as fast as DynamoDB accepts).
 *   Provisioned capacity would throttle those bursts while auto scaling catches up (minutes) and be
 *   paid for idle at night; on-demand absorbs up to twice the previous peak at once.
 * - Tables and the bucket are retained when the stack deletes or replaces them (they hold the
 *   views and the lake), have deletion protection, point-in-time recovery (35 days of restores) and
 *   encryption at rest (DynamoDB: the AWS-managed KMS key, which callers need no KMS permission for).
 * - The lake is encrypted with SSE-S3, not KMS: an object's ETag stays the MD5 of its bytes (the
 *   lake compares ETags) and the workers need no KMS permissions. Versioning is on, so that an
 *   overwrite or a compaction that went wrong can be undone for NoncurrentDays; older versions then
 *   expire, which bounds what early uploads and compaction (both replace objects) cost. The worker
 *   writes final names directly (conditional PUTs, no temporary prefix), so the only leftovers are
 *   incomplete multipart uploads, aborted after a day.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { catalog, type CatalogEntry } from '../../workers/catalog.ts';
import { topicNames } from '../../schemas/topics.ts';
import {
  projectionOf,
  tables,
  type KeyAttribute,
  type TableDefinition,
  type TableKey,
} from '../../schemas/tables.ts';
import { workerAccess, type BucketAction, type WorkerAccess } from './worker-access.ts';

export const templatePath = fileURLToPath(new URL('./koo-pipeline.template.json', import.meta.url));

/** The Kubernetes namespace's default and the name of each process's service account and role. */
export const defaultNamespace = 'koo-pipeline';
export const roleName = (worker: string): string => `koo-pipeline-${worker}`;

/** Days after which lake objects move to cheaper storage, and old versions expire. */
export const lakeLifecycle = {
  infrequentAccessDays: 30,
  glacierInstantRetrievalDays: 180,
  abortIncompleteUploadDays: 1,
  noncurrentVersionDays: 7,
  // S3 Standard-IA and Glacier IR bill an object below 128 KiB as 128 KiB: small ones stay.
  minTransitionBytes: 128 * 1024,
};

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const pascal = (s: string): string =>
  s
    .split(/[^A-Za-z0-9]+/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

export const tableLogicalId = (key: string): string => `${pascal(key)}Table`;
export const policyLogicalId = (worker: string): string => `${pascal(worker)}Policy`;
export const roleLogicalId = (worker: string): string => `${pascal(worker)}Role`;
export const kafkaPolicyLogicalId = (worker: string): string => `${pascal(worker)}KafkaPolicy`;
/** Set when the workers use KAFKA_SASL_MECHANISM=aws-msk-iam: the Kafka policies exist only then. */
export const mskIamCondition = 'UsesMskIam';
export const lakeBucketLogicalId = 'LakeBucket';
export const bodiesBucketLogicalId = 'BodiesBucket';

const tags: Json = [
  { Key: 'app', Value: 'koo-pipeline' },
  { Key: 'environment', Value: { Ref: 'Environment' } },
];

const retained = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' };

function keySchema(partitionKey: KeyAttribute, sortKey?: KeyAttribute): Json {
  return [
    { AttributeName: partitionKey.name, KeyType: 'HASH' },
    ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' }] : []),
  ];
}

function tableResource(def: TableDefinition): Json {
  // Exactly the key attributes of the table and its GSIs (DynamoDB refuses any other).
  const attributes = new Map<string, KeyAttribute>();
  for (const k of [def.partitionKey, def.sortKey, ...def.indexes.flatMap((i) => [i.partitionKey, i.sortKey])])
    if (k) attributes.set(k.name, k);
  return {
    Type: 'AWS::DynamoDB::Table',
    ...retained,
    Properties: {
      TableName: { 'Fn::Sub': `\${TablePrefix}${def.name}` },
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...attributes.values()].map((a) => ({
        AttributeName: a.name,
        AttributeType: a.type,
      })),
      KeySchema: keySchema(def.partitionKey, def.sortKey),
      ...(def.indexes.length > 0
        ? {
            GlobalSecondaryIndexes: def.indexes.map((index) => ({
              IndexName: index.name,
              KeySchema: keySchema(index.partitionKey, index.sortKey),
              Projection: projectionOf(index),
            })),
          }
        : {}),
      ...(def.ttlAttribute
        ? { TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true } }
        : {}),
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      DeletionProtectionEnabled: true,
      Tags: tags,
    },
  };
}

/** What both buckets are: private, encrypted with SSE-S3, owned by the account. */
const privateBucket = {
  BucketEncryption: {
    ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
  },
  PublicAccessBlockConfiguration: {
    BlockPublicAcls: true,
    BlockPublicPolicy: true,
    IgnorePublicAcls: true,
    RestrictPublicBuckets: true,
  },
  OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
};

function lakeBucketResource(): Json {
  const l = lakeLifecycle;
  return {
    Type: 'AWS::S3::Bucket',
    ...retained,
    Properties: {
      BucketName: { Ref: 'LakeBucketName' },
      ...privateBucket,
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: [
          {
            Id: 'tier-lake-objects',
            Status: 'Enabled',
            ObjectSizeGreaterThan: String(l.minTransitionBytes),
            Transitions: [
              { StorageClass: 'STANDARD_IA', TransitionInDays: l.infrequentAccessDays },
              { StorageClass: 'GLACIER_IR', TransitionInDays: l.glacierInstantRetrievalDays },
            ],
          },
          {
            Id: 'abort-incomplete-multipart-uploads',
            Status: 'Enabled',
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: l.abortIncompleteUploadDays },
          },
          {
            Id: 'expire-replaced-versions',
            Status: 'Enabled',
            NoncurrentVersionExpiration: { NoncurrentDays: l.noncurrentVersionDays },
            ExpiredObjectDeleteMarker: true,
          },
        ],
      },
      Tags: tags,
    },
  };
}

/**
 * Koo bodies above BODY_INLINE_MAX_BYTES. Not versioned: deleting a (moderated) koo's objects
 * must remove the text, not hide it behind a delete marker.
 */
function bodiesBucketResource(): Json {
  return {
    Type: 'AWS::S3::Bucket',
    ...retained,
    Properties: {
      BucketName: { Ref: 'BodiesBucketName' },
      ...privateBucket,
      Tags: tags,
    },
  };
}

/** Refuses plain HTTP to a bucket (the lake's conditional writes need TLS or SigV4 anyway). */
function bucketPolicyResource(bucketLogicalId: string): Json {
  return {
    Type: 'AWS::S3::BucketPolicy',
    Properties: {
      Bucket: { Ref: bucketLogicalId },
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [
              { 'Fn::GetAtt': [bucketLogicalId, 'Arn'] },
              { 'Fn::Sub': `\${${bucketLogicalId}.Arn}/*` },
            ],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      },
    },
  };
}

export const lakeCatalogLogicalId = 'LakeCatalogDatabase';

/**
 * The Glue database of the lake's Iceberg tables (LAKE_CATALOG_URL glue://<name>); the lake worker
 * creates a table per topic in it. Retained like the lake: dropping it would drop the tables' pointers.
 */
function lakeCatalogResource(): Json {
  return {
    Type: 'AWS::Glue::Database',
    DeletionPolicy: 'Retain',
    UpdateReplacePolicy: 'Retain',
    Properties: {
      CatalogId: { Ref: 'AWS::AccountId' },
      DatabaseInput: {
        Name: { Ref: 'LakeCatalogDatabaseName' },
        Description:
          'koo-pipeline: the Iceberg tables of the lake, one per topic (written by the lake worker)',
      },
    },
  };
}

/** The statements of a worker's policy: one per table, one per GSI, each bucket's listing and objects, the lake's catalog. */
export function policyStatements(access: WorkerAccess): Json[] {
  const statements: Json[] = [];
  for (const t of access.tables) {
    const def: TableDefinition = tables[t.table];
    const id = tableLogicalId(t.table);
    if (t.actions.length > 0)
      statements.push({
        Sid: id,
        Effect: 'Allow',
        Action: [...t.actions].sort().map((a) => `dynamodb:${a}`),
        Resource: { 'Fn::GetAtt': [id, 'Arn'] },
      });
    for (const [index, actions] of Object.entries(t.indexes ?? {})) {
      if (!def.indexes.some((i) => i.name === index))
        throw new Error(`worker-access.ts: table ${t.table} has no index ${index}`);
      statements.push({
        Sid: `${id}${pascal(index)}Index`,
        Effect: 'Allow',
        Action: [...actions].sort().map((a) => `dynamodb:${a}`),
        Resource: { 'Fn::Sub': `\${${id}.Arn}/index/${index}` },
      });
    }
  }
  statements.push(
    ...bucketStatements(
      'Lake',
      lakeBucketLogicalId,
      `\${${lakeBucketLogicalId}.Arn}/\${LakePrefix}*`,
      access.lake,
    ),
    ...bucketStatements('Bodies', bodiesBucketLogicalId, `\${${bodiesBucketLogicalId}.Arn}/*`, access.bodies),
  );
  if (access.lakeCatalog?.length)
    statements.push({
      // Glue authorises a table call on the catalog, the database and the table alike.
      Sid: 'LakeCatalog',
      Effect: 'Allow',
      Action: [...access.lakeCatalog].sort().map((a) => `glue:${a}`),
      Resource: ['catalog', 'database/${LakeCatalogDatabaseName}', 'table/${LakeCatalogDatabaseName}/*'].map(
        (r) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:glue:\${AWS::Region}:\${AWS::AccountId}:${r}` }),
      ),
    });
  return statements;
}

function bucketStatements(
  sid: string,
  bucketLogicalId: string,
  objects: string,
  actions: readonly BucketAction[] = [],
): Json[] {
  const statements: Json[] = [];
  if (actions.includes('ListBucket'))
    statements.push({
      // On the whole bucket, without an s3:prefix condition: S3 answers a HEAD of a missing key
      // with 404 only to a caller allowed to list (else 403), and the request has no prefix then.
      Sid: `${sid}List`,
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: { 'Fn::GetAtt': [bucketLogicalId, 'Arn'] },
    });
  const objectActions = actions.filter((a) => a !== 'ListBucket');
  if (objectActions.length > 0)
    statements.push({
      Sid: `${sid}Objects`,
      Effect: 'Allow',
      Action: [...objectActions].sort().map((a) => `s3:${a}`),
      Resource: { 'Fn::Sub': objects },
    });
  return statements;
}

/** IAM descriptions take Latin-1 only (the catalog's descriptions have arrows), up to 1000 characters. */
export function iamText(text: string): string {
  return text
    .replaceAll('→', '->')
    .replace(/[^\t\n\r\u0020-\u007E\u00A1-\u00FF]/g, '?')
    .slice(0, 1000);
}

function describeAccess(access: WorkerAccess): string {
  const parts = access.tables.map((t) => {
    const on = [
      ...(t.actions.length > 0 ? [[...t.actions].sort().join(', ')] : []),
      ...Object.entries(t.indexes ?? {}).map(([i, a]) => `${a.join(', ')} on index ${i}`),
    ];
    return `${tables[t.table].name}: ${on.join('; ')}`;
  });
  if (access.lake?.length) parts.push(`lake bucket: ${[...access.lake].sort().join(', ')}`);
  if (access.bodies?.length) parts.push(`bodies bucket: ${[...access.bodies].sort().join(', ')}`);
  if (access.lakeCatalog?.length)
    parts.push(`lake catalog (Glue): ${[...access.lakeCatalog].sort().join(', ')}`);
  return parts.join('. ');
}

/**
 * IRSA: only the Kubernetes service account `koo-pipeline-<name>` of the namespace, through the
 * cluster's OIDC provider, may assume the role. The condition keys name the provider's issuer,
 * which a JSON key cannot compute, so the document is a string with substitutions.
 */
function roleResource(worker: string, managedPolicyArns: Json[], description: string): Json {
  const trust = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: '${OidcProviderArn}' },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            '${OidcIssuer}:sub': `system:serviceaccount:\${ServiceAccountNamespace}:${roleName(worker)}`,
            '${OidcIssuer}:aud': 'sts.amazonaws.com',
          },
        },
      },
    ],
  };
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: roleName(worker),
      Description: iamText(description),
      AssumeRolePolicyDocument: {
        'Fn::Sub': [
          JSON.stringify(trust),
          {
            OidcIssuer: {
              'Fn::Select': [1, { 'Fn::Split': ['oidc-provider/', { Ref: 'OidcProviderArn' }] }],
            },
          },
        ],
      },
      ...(managedPolicyArns.length > 0 ? { ManagedPolicyArns: managedPolicyArns } : {}),
      Tags: tags,
    },
  };
}

/**
 * MSK IAM access of a Kafka consumer (KAFKA_SASL_MECHANISM=aws-msk-iam): connect, read its
 * group's topics, commit as its group, and write dead letters with an idempotent producer.
 * Topic and group ARNs are the cluster's with `cluster/` replaced by `topic/` or `group/`.
 */
export function kafkaStatements(entry: CatalogEntry): Json[] {
  if (!entry.group) return [];
  const parts = (i: number) => ({
    'Fn::Select': [i, { 'Fn::Split': [':cluster/', { Ref: 'MskClusterArn' }] }],
  });
  const arn = (kind: 'topic' | 'group', name: string) => ({
    'Fn::Sub': [`\${Prefix}:${kind}/\${Cluster}/${name}`, { Prefix: parts(0), Cluster: parts(1) }],
  });
  return [
    {
      Sid: 'KafkaCluster',
      Effect: 'Allow',
      Action: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'],
      Resource: { Ref: 'MskClusterArn' },
    },
    {
      Sid: 'KafkaReadTopics',
      Effect: 'Allow',
      Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
      Resource: [...entry.group.topics].sort().map((t) => arn('topic', t)),
    },
    {
      Sid: 'KafkaDeadLetters',
      Effect: 'Allow',
      Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
      Resource: arn('topic', topicNames.dlq),
    },
    {
      Sid: 'KafkaGroup',
      Effect: 'Allow',
      Action: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
      Resource: arn('group', entry.group.defaultId),
    },
  ];
}

/** The template as an object. */
export function buildTemplate(): { [key: string]: Json } {
  const resources: { [key: string]: Json } = {};
  const outputs: { [key: string]: Json } = {};
  for (const [key, def] of Object.entries(tables) as [TableKey, TableDefinition][]) {
    resources[tableLogicalId(key)] = tableResource(def);
    outputs[`${tableLogicalId(key)}Name`] = {
      Description: `${def.name} with the prefix`,
      Value: { Ref: tableLogicalId(key) },
    };
  }
  resources[lakeBucketLogicalId] = lakeBucketResource();
  resources[bodiesBucketLogicalId] = bodiesBucketResource();
  for (const [id, variable] of [
    [lakeBucketLogicalId, 'LAKE_BUCKET'],
    [bodiesBucketLogicalId, 'BODY_BUCKET'],
  ] as const) {
    resources[`${id}Policy`] = bucketPolicyResource(id);
    outputs[`${id}Arn`] = {
      Description: `The ${id === lakeBucketLogicalId ? 'lake' : 'bodies'} bucket (${variable})`,
      Value: { 'Fn::GetAtt': [id, 'Arn'] },
    };
  }

  resources[lakeCatalogLogicalId] = lakeCatalogResource();
  outputs[`${lakeCatalogLogicalId}Name`] = {
    Description: "The lake's Iceberg catalog: set the lake worker's LAKE_CATALOG_URL to glue://<this name>",
    Value: { Ref: lakeCatalogLogicalId },
  };

  for (const entry of catalog) {
    const access = workerAccess[entry.name];
    if (!access) throw new Error(`infra/aws/worker-access.ts has no entry for ${entry.name}`);
    const statements = policyStatements(access);
    if (statements.length > 0) {
      const description = iamText(
        `koo-pipeline ${entry.name} (${entry.description}). ${describeAccess(access)}.`,
      );
      resources[policyLogicalId(entry.name)] = {
        Type: 'AWS::IAM::ManagedPolicy',
        Properties: {
          ManagedPolicyName: { 'Fn::Sub': `\${AWS::StackName}-${entry.name}` },
          Description: description,
          PolicyDocument: { Version: '2012-10-17', Statement: statements },
        },
      };
      outputs[`${policyLogicalId(entry.name)}Arn`] = {
        Description: `What ${entry.name} may do on AWS`,
        Value: { Ref: policyLogicalId(entry.name) },
      };
    }
    const kafka = kafkaStatements(entry);
    if (kafka.length > 0) {
      resources[kafkaPolicyLogicalId(entry.name)] = {
        Type: 'AWS::IAM::ManagedPolicy',
        Condition: mskIamCondition,
        Properties: {
          ManagedPolicyName: { 'Fn::Sub': `\${AWS::StackName}-${entry.name}-kafka` },
          Description: iamText(
            `koo-pipeline ${entry.name} on MSK (IAM auth): group ${entry.group!.defaultId}, ` +
              `reads ${entry.group!.topics.join(', ')}, writes ${topicNames.dlq}.`,
          ),
          PolicyDocument: { Version: '2012-10-17', Statement: kafka },
        },
      };
      outputs[`${kafkaPolicyLogicalId(entry.name)}Arn`] = {
        Condition: mskIamCondition,
        Description: `What ${entry.name} may do on the MSK cluster (IAM auth)`,
        Value: { Ref: kafkaPolicyLogicalId(entry.name) },
      };
    }
    resources[roleLogicalId(entry.name)] = roleResource(
      entry.name,
      [
        ...(statements.length > 0 ? [{ Ref: policyLogicalId(entry.name) }] : []),
        ...(kafka.length > 0
          ? [
              {
                'Fn::If': [
                  mskIamCondition,
                  { Ref: kafkaPolicyLogicalId(entry.name) },
                  { Ref: 'AWS::NoValue' },
                ],
              },
            ]
          : []),
      ],
      statements.length > 0
        ? `IRSA role of the ${entry.name} worker (service account ${roleName(entry.name)})`
        : `IRSA role of the ${entry.name} worker (service account ${roleName(entry.name)}); it calls no AWS API`,
    );
    outputs[`${roleLogicalId(entry.name)}Arn`] = {
      Description: `Annotate service account ${roleName(entry.name)} with it (eks.amazonaws.com/role-arn)`,
      Value: { 'Fn::GetAtt': [roleLogicalId(entry.name), 'Arn'] },
    };
  }

  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description:
      'koo-pipeline: DynamoDB tables (on-demand: spiky traffic and replays), the S3 Parquet lake and the Glue database of its Iceberg tables, the bucket of large koo bodies, and a ' +
      'least-privilege IAM policy and IRSA role per worker. Generated by infra/aws/render.ts from ' +
      'schemas/tables.ts and infra/aws/worker-access.ts; do not edit.',
    Parameters: {
      Environment: {
        Type: 'String',
        Default: 'production',
        AllowedPattern: '^[a-z0-9-]+$',
        Description: 'Tag value (environment) of every resource',
      },
      TablePrefix: {
        Type: 'String',
        Default: '',
        AllowedPattern: '^[A-Za-z0-9_.-]*$',
        Description: "Prefix of every table name: the workers' TABLE_PREFIX (e.g. prod_)",
      },
      LakeBucketName: {
        Type: 'String',
        AllowedPattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$',
        Description: "The lake bucket, created by this stack: the workers' LAKE_BUCKET",
      },
      BodiesBucketName: {
        Type: 'String',
        AllowedPattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$',
        Description:
          "The bucket of koo bodies too large for an item, created by this stack: the workers' BODY_BUCKET",
      },
      LakePrefix: {
        Type: 'String',
        Default: '',
        AllowedPattern: '^[A-Za-z0-9_./=-]*$',
        Description: "Key prefix of the lake in the bucket: the lake worker's LAKE_PREFIX (e.g. staging/)",
      },
      LakeCatalogDatabaseName: {
        Type: 'String',
        Default: 'koo_lake',
        AllowedPattern: '^[a-z0-9_]{1,255}$',
        Description:
          "The Glue database of the lake's Iceberg tables, created by this stack: LAKE_CATALOG_URL glue://<name>",
      },
      OidcProviderArn: {
        Type: 'String',
        AllowedPattern: '^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/.+$',
        Description: "The EKS cluster's IAM OIDC provider (IRSA)",
      },
      ServiceAccountNamespace: {
        Type: 'String',
        Default: defaultNamespace,
        Description: 'Kubernetes namespace of the service accounts koo-pipeline-<worker>',
      },
      MskClusterArn: {
        Type: 'String',
        Default: '',
        AllowedPattern: '^(arn:aws[a-z-]*:kafka:[a-z0-9-]+:[0-9]{12}:cluster/[^/]+/[^/]+)?$',
        Description:
          'The MSK cluster, when the workers authenticate with IAM (KAFKA_SASL_MECHANISM=aws-msk-iam): ' +
          'each consumer role then gets a Kafka policy for its group and topics. Empty: SCRAM or TLS only, no Kafka policy',
      },
    },
    Conditions: {
      [mskIamCondition]: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'MskClusterArn' }, ''] }] },
    },
    Metadata: {
      'koo-pipeline': {
        GeneratedBy: 'node infra/aws/render.ts',
        Sources: ['schemas/tables.ts', 'workers/catalog.ts', 'infra/aws/worker-access.ts'],
      },
    },
    Resources: resources,
    Outputs: outputs,
  };
}

/** The template as the checked-in file holds it: JSON formatted by the repository's prettier settings. */
export async function renderTemplate(): Promise<string> {
  const config = (await prettier.resolveConfig(templatePath)) ?? {};
  return prettier.format(JSON.stringify(buildTemplate(), null, 2), { ...config, filepath: templatePath });
}

/** The first line where two texts differ, for a stale-file message. */
export function firstDifference(expected: string, actual: string): string | undefined {
  if (expected === actual) return undefined;
  const e = expected.split('\n');
  const a = actual.split('\n');
  for (let i = 0; i < Math.max(e.length, a.length); i++) {
    if (e[i] !== a[i])
      return `line ${i + 1}: expected ${JSON.stringify(e[i] ?? '<end of file>')}, found ${JSON.stringify(a[i] ?? '<end of file>')}`;
  }
  return 'the files differ';
}

if (import.meta.main) {
  const rendered = await renderTemplate();
  if (process.argv.includes('--check')) {
    const current = await readFile(templatePath, 'utf8').catch(() => '');
    const difference = firstDifference(rendered, current);
    if (difference) {
      console.error(
        `infra/aws/koo-pipeline.template.json is stale (${difference}); run node infra/aws/render.ts`,
      );
      process.exit(1);
    }
    console.log('infra/aws/koo-pipeline.template.json is up to date');
  } else {
    await writeFile(templatePath, rendered);
    console.log(`wrote ${templatePath}`);
  }
}
