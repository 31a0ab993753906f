import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { CodeAccessReader, type CodeAccess } from '../../infra/aws/code-access.ts';
import {
  firstDifference,
  kafkaPolicyLogicalId,
  mskIamCondition,
  policyLogicalId,
  renderTemplate,
  roleLogicalId,
  tableLogicalId,
  templatePath,
} from '../../infra/aws/render.ts';
import { workerAccess } from '../../infra/aws/worker-access.ts';
import { projectionOf, tables, type TableDefinition, type TableKey } from '../../schemas/tables.ts';
import { contentAttr as A } from '../../schemas/koo-content.ts';
import { catalog } from '../../workers/catalog.ts';

// infra/aws/koo-pipeline.template.json against its sources: schemas/tables.ts for the tables,
// workers/catalog.ts for the policies and roles, and the workers' code for what each policy grants.

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- the template is plain JSON

const root = fileURLToPath(new URL('../../', import.meta.url));
let template: Json;
const resourcesOf = (type: string): [string, Json][] =>
  Object.entries(template.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);
const tableEntries = Object.entries(tables) as [TableKey, TableDefinition][];

beforeAll(async () => {
  template = JSON.parse(await readFile(templatePath, 'utf8'));
});

describe('the checked-in template', () => {
  it('is what infra/aws/render.ts renders (run `node infra/aws/render.ts` after changing its sources)', async () => {
    expect(firstDifference(await renderTemplate(), await readFile(templatePath, 'utf8'))).toBeUndefined();
  });
});

describe('tables', () => {
  it('has every table of schemas/tables.ts and no other', () => {
    expect(
      resourcesOf('AWS::DynamoDB::Table')
        .map(([id]) => id)
        .sort(),
    ).toEqual(tableEntries.map(([key]) => tableLogicalId(key)).sort());
  });

  it.each(tableEntries)('%s: name, keys, GSIs, TTL as schemas/tables.ts says', (key, def) => {
    const resource = template.Resources[tableLogicalId(key)];
    const p = resource.Properties;
    expect(p.TableName).toEqual({ 'Fn::Sub': `\${TablePrefix}${def.name}` });
    const keys = (pk: { name: string }, sk?: { name: string }) => [
      { AttributeName: pk.name, KeyType: 'HASH' },
      ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' }] : []),
    ];
    expect(p.KeySchema).toEqual(keys(def.partitionKey, def.sortKey));
    // Exactly the key attributes of the table and its indexes, each once, with its type.
    const expected = new Map<string, string>();
    for (const k of [
      def.partitionKey,
      def.sortKey,
      ...def.indexes.flatMap((i) => [i.partitionKey, i.sortKey]),
    ])
      if (k) expected.set(k.name, k.type);
    expect(p.AttributeDefinitions).toHaveLength(expected.size);
    expect(new Map(p.AttributeDefinitions.map((a: Json) => [a.AttributeName, a.AttributeType]))).toEqual(
      expected,
    );
    // Same GSIs and projection as infra/provision.ts creates: never ALL, so that a counter or score
    // update (a reaction) writes the table item only, not its copy in every index.
    expect(p.GlobalSecondaryIndexes ?? []).toEqual(
      def.indexes.map((i) => ({
        IndexName: i.name,
        KeySchema: keys(i.partitionKey, i.sortKey),
        Projection: projectionOf(i),
      })),
    );
    for (const index of p.GlobalSecondaryIndexes ?? []) {
      expect(index.Projection.ProjectionType).not.toBe('ALL');
      for (const written of [
        A.likes,
        A.shares,
        A.rekoos,
        A.reactionsOffset,
        A.score,
        A.scoreFencePrefix,
        A.body,
      ])
        expect(index.Projection.NonKeyAttributes ?? []).not.toContain(written);
    }
    expect(p.TimeToLiveSpecification).toEqual(
      def.ttlAttribute ? { AttributeName: def.ttlAttribute, Enabled: true } : undefined,
    );
    expect(p.BillingMode).toBe('PAY_PER_REQUEST');
    expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(p.SSESpecification).toEqual({ SSEEnabled: true });
    expect(resource.DeletionPolicy).toBe('Retain');
    expect(resource.UpdateReplacePolicy).toBe('Retain');
  });
});

describe('the lake bucket', () => {
  it('is private, encrypted, retained, and ages objects to cheaper storage', () => {
    const bucket = template.Resources.LakeBucket;
    expect(bucket.DeletionPolicy).toBe('Retain');
    const p = bucket.Properties;
    expect(p.BucketName).toEqual({ Ref: 'LakeBucketName' });
    expect(Object.values(p.PublicAccessBlockConfiguration)).toEqual([true, true, true, true]);
    expect(p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({
      SSEAlgorithm: 'AES256',
    });
    const rules = p.LifecycleConfiguration.Rules as Json[];
    expect(rules.every((r) => r.Status === 'Enabled')).toBe(true);
    expect(rules.flatMap((r) => r.Transitions ?? [])).toEqual([
      { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
      { StorageClass: 'GLACIER_IR', TransitionInDays: 180 },
    ]);
    expect(rules.find((r) => r.AbortIncompleteMultipartUpload)?.AbortIncompleteMultipartUpload).toEqual({
      DaysAfterInitiation: 1,
    });
    // Versioned: replaced and deleted versions must expire, or they are kept (and paid for) forever.
    expect(p.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(rules.some((r) => r.NoncurrentVersionExpiration?.NoncurrentDays > 0)).toBe(true);
  });
});

// Where the lake worker's Glue calls are granted: the account's catalog, the database, its tables.
const lakeCatalogArns = [
  'catalog',
  'database/${LakeCatalogDatabaseName}',
  'table/${LakeCatalogDatabaseName}/*',
].map((r) => `arn:\${AWS::Partition}:glue:\${AWS::Region}:\${AWS::AccountId}:${r}`);

describe("the lake's Glue catalog", () => {
  it('is a retained database named by a parameter, whose tables only the lake worker writes', () => {
    const database = template.Resources.LakeCatalogDatabase;
    expect(database.Type).toBe('AWS::Glue::Database');
    expect(database.DeletionPolicy).toBe('Retain');
    expect(database.Properties.DatabaseInput.Name).toEqual({ Ref: 'LakeCatalogDatabaseName' });
    expect(template.Outputs.LakeCatalogDatabaseName.Value).toEqual({ Ref: 'LakeCatalogDatabase' });
    const grants = resourcesOf('AWS::IAM::ManagedPolicy').flatMap(([id, p]) =>
      (p.Properties.PolicyDocument.Statement as Json[])
        .filter((st) => [st.Action].flat().some((a: string) => a.startsWith('glue:')))
        .map((st) => ({ id, actions: st.Action, resources: st.Resource.map((r: Json) => r['Fn::Sub']) })),
    );
    expect(grants).toEqual([
      {
        id: policyLogicalId('lake'),
        actions: ['glue:CreateTable', 'glue:GetTable', 'glue:UpdateTable'],
        resources: lakeCatalogArns,
      },
    ]);
  });
});

describe('the bodies bucket', () => {
  it('is private, encrypted, retained, and not versioned: the text of a deleted koo is gone, not hidden', () => {
    expect(
      resourcesOf('AWS::S3::Bucket')
        .map(([id]) => id)
        .sort(),
    ).toEqual(['BodiesBucket', 'LakeBucket']);
    const bucket = template.Resources.BodiesBucket;
    expect(bucket.DeletionPolicy).toBe('Retain');
    const p = bucket.Properties;
    expect(p.BucketName).toEqual({ Ref: 'BodiesBucketName' });
    expect(Object.values(p.PublicAccessBlockConfiguration)).toEqual([true, true, true, true]);
    expect(p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({
      SSEAlgorithm: 'AES256',
    });
    expect(p.VersioningConfiguration).toBeUndefined();
    for (const id of ['LakeBucketPolicy', 'BodiesBucketPolicy'])
      expect(template.Resources[id].Properties.PolicyDocument.Statement[0].Sid).toBe('DenyInsecureTransport');
  });
});

describe('policies and roles', () => {
  it('declares access for exactly the catalog entries', () => {
    expect(Object.keys(workerAccess).sort()).toEqual(catalog.map((e) => e.name).sort());
  });

  it.each(catalog.map((e) => [e.name]))(
    '%s: a role for its service account, with its policy; both ARNs are outputs',
    (name) => {
      const access = workerAccess[name]!;
      const grants =
        access.tables.length > 0 ||
        [access.lake, access.bodies, access.lakeCatalog].some((actions) => (actions?.length ?? 0) > 0);
      const role = template.Resources[roleLogicalId(name)];
      expect(role.Type).toBe('AWS::IAM::Role');
      expect(role.Properties.RoleName).toBe(`koo-pipeline-${name}`);
      const [trust, vars] = role.Properties.AssumeRolePolicyDocument['Fn::Sub'];
      const statement = JSON.parse(trust).Statement[0];
      expect(statement.Action).toBe('sts:AssumeRoleWithWebIdentity');
      expect(statement.Principal).toEqual({ Federated: '${OidcProviderArn}' });
      expect(statement.Condition.StringEquals).toEqual({
        '${OidcIssuer}:sub': `system:serviceaccount:\${ServiceAccountNamespace}:koo-pipeline-${name}`,
        '${OidcIssuer}:aud': 'sts.amazonaws.com',
      });
      expect(vars.OidcIssuer).toBeDefined();
      expect(template.Outputs[`${roleLogicalId(name)}Arn`].Value).toEqual({
        'Fn::GetAtt': [roleLogicalId(name), 'Arn'],
      });
      if (!grants) {
        // A role with nothing to grant has no policy (one with no statement is invalid).
        expect(template.Resources[policyLogicalId(name)]).toBeUndefined();
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
        return;
      }
      expect(template.Resources[policyLogicalId(name)].Type).toBe('AWS::IAM::ManagedPolicy');
      // The Kafka policy only of what reads a consumer group (the sender reads none).
      const readsKafka = catalog.find((e) => e.name === name)!.group !== undefined;
      expect(role.Properties.ManagedPolicyArns).toEqual([
        { Ref: policyLogicalId(name) },
        ...(readsKafka
          ? [{ 'Fn::If': [mskIamCondition, { Ref: kafkaPolicyLogicalId(name) }, { Ref: 'AWS::NoValue' }] }]
          : []),
      ]);
      expect(template.Outputs[`${policyLogicalId(name)}Arn`].Value).toEqual({ Ref: policyLogicalId(name) });
    },
  );

  it('grants no wildcard action or resource: tables, their indexes, the lake below its prefix, its catalog, the bodies bucket', () => {
    const tableIds = new Map(tableEntries.map(([key, def]) => [tableLogicalId(key), def]));
    const policies = resourcesOf('AWS::IAM::ManagedPolicy').filter(([, p]) => !p.Condition);
    expect(policies.length).toBeGreaterThan(0);
    for (const [id, policy] of policies) {
      for (const s of policy.Properties.PolicyDocument.Statement as Json[]) {
        expect(s.Effect, id).toBe('Allow');
        expect(s.NotAction ?? s.NotResource, id).toBeUndefined();
        for (const action of [s.Action].flat()) expect(action, id).toMatch(/^(dynamodb|s3|glue):[A-Za-z]+$/);
        for (const resource of [s.Resource].flat()) {
          if (resource['Fn::GetAtt']) {
            const [target, attribute] = resource['Fn::GetAtt'];
            expect(attribute).toBe('Arn');
            expect(
              tableIds.has(target) || target === 'LakeBucket' || target === 'BodiesBucket',
              `${id}: ${target}`,
            ).toBe(true);
            continue;
          }
          const sub: string = resource['Fn::Sub'];
          // The only wildcards: the lake's object keys below LakePrefix, the bodies bucket's objects,
          // and the tables of the lake's Glue database.
          if (sub === '${LakeBucket.Arn}/${LakePrefix}*' || sub === '${BodiesBucket.Arn}/*') continue;
          if (lakeCatalogArns.includes(sub)) continue;
          const m = /^\$\{(\w+)\.Arn\}\/index\/([\w.-]+)$/.exec(sub);
          expect(m, `${id}: ${sub}`).not.toBeNull();
          expect(tableIds.get(m![1]!)?.indexes.map((i) => i.name)).toContain(m![2]);
        }
      }
    }
  });

  it.each(catalog.filter((e) => e.group).map((e) => [e.name, e] as const))(
    "%s on MSK with IAM auth: connects, reads exactly its group's topics, commits as its group, writes dead letters",
    (name, entry) => {
      const policy = template.Resources[kafkaPolicyLogicalId(name)];
      expect(policy.Condition).toBe(mskIamCondition);
      const statements = policy.Properties.PolicyDocument.Statement as Json[];
      // kafka-cluster ARNs: the cluster's, with cluster/ replaced by topic/ or group/.
      const named = (resource: Json) => {
        const [text, vars] = resource['Fn::Sub'];
        expect(vars.Prefix['Fn::Select'][1]['Fn::Split']).toEqual([':cluster/', { Ref: 'MskClusterArn' }]);
        return text as string;
      };
      const byId = Object.fromEntries(statements.map((st) => [st.Sid, st]));
      expect(byId.KafkaCluster.Resource).toEqual({ Ref: 'MskClusterArn' });
      expect(byId.KafkaCluster.Action).toEqual([
        'kafka-cluster:Connect',
        'kafka-cluster:WriteDataIdempotently',
      ]);
      expect(byId.KafkaReadTopics.Action).toEqual(['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData']);
      expect(byId.KafkaReadTopics.Resource.map(named)).toEqual(
        [...entry.group!.topics].sort().map((t) => `\${Prefix}:topic/\${Cluster}/${t}`),
      );
      expect(byId.KafkaDeadLetters.Action).toEqual([
        'kafka-cluster:DescribeTopic',
        'kafka-cluster:WriteData',
      ]);
      expect(named(byId.KafkaDeadLetters.Resource)).toBe('${Prefix}:topic/${Cluster}/koo.dlq');
      expect(named(byId.KafkaGroup.Resource)).toBe(`\${Prefix}:group/\${Cluster}/${entry.group!.defaultId}`);
      expect(statements).toHaveLength(4);
    },
  );

  it('puts in each policy exactly what infra/aws/worker-access.ts declares', () => {
    for (const entry of catalog) {
      const policy = template.Resources[policyLogicalId(entry.name)];
      const granted = new Set<string>();
      for (const s of policy?.Properties.PolicyDocument.Statement ?? [])
        for (const action of [s.Action].flat())
          for (const r of [s.Resource].flat())
            granted.add(`${action} ${r['Fn::GetAtt'] ? r['Fn::GetAtt'][0] : r['Fn::Sub']}`);
      const access = workerAccess[entry.name]!;
      const declared = new Set<string>([
        ...access.tables.flatMap((t) => [
          ...t.actions.map((a) => `dynamodb:${a} ${tableLogicalId(t.table)}`),
          ...Object.entries(t.indexes ?? {}).flatMap(([index, actions]) =>
            actions.map((a) => `dynamodb:${a} \${${tableLogicalId(t.table)}.Arn}/index/${index}`),
          ),
        ]),
        ...(access.lake ?? []).map((a) =>
          a === 'ListBucket' ? `s3:${a} LakeBucket` : `s3:${a} \${LakeBucket.Arn}/\${LakePrefix}*`,
        ),
        ...(access.bodies ?? []).map((a) =>
          a === 'ListBucket' ? `s3:${a} BodiesBucket` : `s3:${a} \${BodiesBucket.Arn}/*`,
        ),
        ...(access.lakeCatalog ?? []).flatMap((a) => lakeCatalogArns.map((arn) => `glue:${a} ${arn}`)),
      ]);
      expect([...granted].sort(), entry.name).toEqual([...declared].sort());
    }
  });
});

/**
 * The declaration against the code. infra/aws/code-access.ts reads each process's runtime import
 * graph with the TypeScript checker: AWS SDK commands constructed in functions the process refers
 * to (through the batch wrappers too), `tableName()` calls, GSI names; see its header for why that
 * holds up. Granted must equal used, per worker: a missing action fails in production, an unused
 * one is privilege nobody needs.
 */
describe('worker-access.ts against what the code calls', () => {
  let reader: CodeAccessReader;
  const code = new Map<string, CodeAccess>();
  beforeAll(() => {
    reader = new CodeAccessReader(root, [...catalog.map((e) => e.main), 'apps/cli/koo.ts']);
    for (const e of catalog) code.set(e.name, reader.of(e.main));
  }, 120_000);

  it.each(catalog.map((e) => [e.name]))('%s', (name) => {
    const used = code.get(name)!;
    const access = workerAccess[name]!;
    expect(used.problems).toEqual([]);
    expect(used.files).toContain(catalog.find((e) => e.name === name)!.main);

    // The tables the worker names, and every table action and GSI action it performs.
    expect([...used.dynamodb.tables.keys()].sort(), 'tables').toEqual(
      access.tables.map((t) => t.table).sort(),
    );
    const declaredActions = (t: (typeof access.tables)[number]) => [
      ...t.actions,
      ...Object.entries(t.indexes ?? {}).flatMap(([index, actions]) => actions.map((a) => `${a}@${index}`)),
    ];
    expect([...used.dynamodb.actions].sort(), 'DynamoDB actions').toEqual(
      [...new Set(access.tables.flatMap(declaredActions))].sort(),
    );
    // Per table: nothing beyond what the store given that table's name can do.
    for (const t of access.tables) {
      const possible = used.dynamodb.tables.get(t.table);
      for (const a of declaredActions(t))
        if (possible) expect([...possible], `${name}: ${a} on ${t.table}`).toContain(a);
    }
    // The code's S3 calls are not told apart by bucket: the two declarations together must match them.
    expect([...used.s3].sort(), 'S3 actions').toEqual(
      [...new Set([...(access.lake ?? []), ...(access.bodies ?? [])])].sort(),
    );
    expect([...used.glue].sort(), 'Glue actions').toEqual([...(access.lakeCatalog ?? [])].sort());
  });

  it('sees what only the CLI calls, and keeps it out of the workers', () => {
    // `koo lake compact` deletes compacted objects; the lake worker never deletes.
    const cli = reader.of('apps/cli/koo.ts');
    expect(cli.problems).toEqual([]);
    expect([...cli.s3]).toContain('DeleteObject');
    expect([...code.get('lake')!.s3]).not.toContain('DeleteObject');
    expect([...cli.glue].sort()).toEqual(['CreateTable', 'GetTable', 'UpdateTable']);
    expect(code.get('lake')!.files).not.toContain('workers/lake/compaction.ts');
  });
});
