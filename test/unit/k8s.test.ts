import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { QueueKeys } from 'bullmq';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { CONFIG_MAP, k8sDir, renderManifests, SECRET, strayFiles } from '../../infra/k8s/render.ts';
import { topics } from '../../schemas/topics.ts';
import { catalog, groupIdOf, type CatalogEntry } from '../../workers/catalog.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const repoRoot = resolve(import.meta.dirname, '../..');
const awsTemplate = join(repoRoot, 'infra/aws/koo-pipeline.template.json');
let rendered: Map<string, string>;
/** Every document of every rendered file, as plain objects. */
let docs: { file: string; object: Obj }[];

beforeAll(async () => {
  rendered = await renderManifests();
  docs = [...rendered].flatMap(([file, text]) =>
    parseAllDocuments(text).map((doc) => {
      expect(doc.errors, file).toEqual([]);
      return { file, object: doc.toJS() as Obj };
    }),
  );
});

const find = (kind: string, name: string, file?: string) =>
  docs.find((d) => d.object.kind === kind && d.object.metadata?.name === name && (!file || d.file === file))
    ?.object;
const deploymentOf = (entry: CatalogEntry) => find('Deployment', entry.name, `${entry.name}.yaml`)!;
const containerOf = (entry: CatalogEntry): Obj => deploymentOf(entry).spec.template.spec.containers[0];

/** What the container's environment holds: its ConfigMaps and Secrets (envFrom), then its env. */
function environmentOf(entry: CatalogEntry): Record<string, string> {
  const container = containerOf(entry);
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, find('ConfigMap', source.configMapRef.name)!.data);
    if (source.secretRef) Object.assign(env, find('Secret', source.secretRef.name)!.stringData);
  }
  for (const { name, value } of container.env ?? []) env[name] = value;
  return env;
}

/** Set empty in the ConfigMap: no local endpoint, so the SDK uses AWS's regional ones. */
const EMPTY_ENDPOINTS = ['DYNAMODB_ENDPOINT', 'S3_ENDPOINT'];

const field = (entry: CatalogEntry, name: string) => entry.configSchema.shape[name] as z.ZodType;

describe('infra/k8s', () => {
  it('the checked-in files are the render (run `node infra/k8s/render.ts` after a change)', () => {
    for (const [file, text] of rendered) {
      expect(readFileSync(join(k8sDir, file), 'utf8'), `infra/k8s/${file}`).toBe(text);
    }
    expect(strayFiles(rendered)).toEqual([]);
  });

  it('kustomization.yaml lists every rendered manifest but the Secret template', () => {
    const kustomization = docs.find((d) => d.object.kind === 'Kustomization')!.object;
    const expected = [...rendered.keys()].filter(
      (f) => f !== 'kustomization.yaml' && f !== 'secret.example.yaml',
    );
    expect([...kustomization.resources].sort()).toEqual(expected.sort());
    expect(
      readdirSync(k8sDir)
        .filter((f) => f.endsWith('.yaml'))
        .sort(),
    ).toEqual([...rendered.keys()].sort());
  });

  it('no object but the Namespace and the Kustomization is outside the namespace', () => {
    const namespace = find('Namespace', 'koo-pipeline')!;
    for (const { file, object } of docs) {
      if (object.kind === 'Namespace' || object.kind === 'Kustomization') continue;
      expect(object.metadata.namespace, `${file} ${object.kind}`).toBe(namespace.metadata.name);
    }
  });

  describe.each(catalog.map((entry) => [entry.name, entry] as const))('%s', (_name, entry) => {
    it('has a ServiceAccount with its IRSA role, a Deployment, a PodDisruptionBudget and a ScaledObject', () => {
      const file = `${entry.name}.yaml`;
      const account = find('ServiceAccount', `koo-pipeline-${entry.name}`, file)!;
      expect(account.metadata.annotations['eks.amazonaws.com/role-arn']).toMatch(
        new RegExp(`^arn:aws:iam::[^:]+:role/koo-pipeline-${entry.name}$`),
      );
      expect(deploymentOf(entry).spec.template.spec.serviceAccountName).toBe(account.metadata.name);
      const pdb = find('PodDisruptionBudget', entry.name, file)!;
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(pdb.spec.selector).toEqual(deploymentOf(entry).spec.selector);
      expect(find('ScaledObject', entry.name, file)!.spec.scaleTargetRef.name).toBe(entry.name);
    });

    it('runs its entry point from the image', () => {
      const container = containerOf(entry);
      expect(container.image).toBe('koo-pipeline:latest');
      expect(container.command[0]).toBe('node');
      expect(container.command.at(-1)).toBe(entry.main);
      expect(readdirSync(join(repoRoot, dirname(entry.main)))).toContain(entry.main.split('/').at(-1));
    });

    it('every variable set for it (ConfigMap, Secret, env) is a key of its configSchema', () => {
      const unknown = Object.keys(environmentOf(entry)).filter((k) => !(k in entry.configSchema.shape));
      expect(unknown).toEqual([]);
    });

    it('every value set for it parses with its configSchema (endpoints aside, see the known issue)', () => {
      const env = environmentOf(entry);
      for (const name of EMPTY_ENDPOINTS) expect(env[name], name).toBe('');
      const result = entry.configSchema.safeParse(env);
      expect(result.success ? [] : result.error.issues).toEqual([]);
    });

    it('gets the Secret (REDIS_URL) if and only if its code reads REDIS_URL', () => {
      const dir = join(repoRoot, dirname(entry.main));
      const source = readdirSync(dir)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => readFileSync(join(dir, f), 'utf8'))
        .join('\n');
      const mounted = (containerOf(entry).envFrom as Obj[]).some((s) => s.secretRef?.name === SECRET);
      expect(mounted).toBe(source.includes('REDIS_URL'));
      expect((containerOf(entry).envFrom as Obj[]).some((s) => s.configMapRef?.name === CONFIG_MAP)).toBe(
        true,
      );
    });

    it('probes /healthz and /readyz on the port HTTP_PORT names, and Prometheus scrapes it', () => {
      const container = containerOf(entry);
      const port = Number(field(entry, 'HTTP_PORT').parse(environmentOf(entry).HTTP_PORT));
      expect(port).toBeGreaterThan(0);
      const portOf = (probe: Obj): number => {
        const p = probe.httpGet.port;
        return typeof p === 'number' ? p : container.ports.find((c: Obj) => c.name === p).containerPort;
      };
      expect(container.ports).toContainEqual({ name: 'metrics', containerPort: port, protocol: 'TCP' });
      for (const [probe, path] of [
        ['startupProbe', '/healthz'],
        ['livenessProbe', '/healthz'],
        ['readinessProbe', '/readyz'],
      ] as const) {
        expect(container[probe].httpGet.path, probe).toBe(path);
        expect(portOf(container[probe]), probe).toBe(port);
      }
      const annotations = deploymentOf(entry).spec.template.metadata.annotations;
      expect(annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(port),
      });
    });

    it('gives SIGTERM more time than SHUTDOWN_TIMEOUT_MS', () => {
      const timeoutMs = Number(
        field(entry, 'SHUTDOWN_TIMEOUT_MS').parse(environmentOf(entry).SHUTDOWN_TIMEOUT_MS),
      );
      const grace = deploymentOf(entry).spec.template.spec.terminationGracePeriodSeconds;
      expect(grace * 1000).toBeGreaterThan(timeoutMs);
    });

    it('runs non-root on a read-only root filesystem and rolls one extra pod at a time', () => {
      const deployment = deploymentOf(entry);
      expect(deployment.spec.replicas).toBeUndefined(); // the ScaledObject owns it
      expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
      expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      expect(containerOf(entry).securityContext.readOnlyRootFilesystem).toBe(true);
      const limits = containerOf(entry).resources.limits;
      expect(limits.memory).toMatch(/^\d+Mi$/);
      const heap = Number(/--max-old-space-size=(\d+)/.exec(containerOf(entry).command.join(' '))![1]);
      expect(heap).toBeLessThan(parseInt(limits.memory, 10));
    });

    if (entry.group) {
      const group = entry.group;
      it('scales on its consumer group lag, up to the partition count of its topics', () => {
        const scaled = find('ScaledObject', entry.name)!;
        const env = environmentOf(entry);
        const partitions = Math.min(...group.topics.map((t) => topics.find((d) => d.name === t)!.partitions));
        expect(scaled.spec.minReplicaCount).toBe(1);
        expect(scaled.spec.maxReplicaCount).toBe(partitions);
        expect(scaled.spec.triggers).toHaveLength(1);
        const trigger = scaled.spec.triggers[0];
        expect(trigger.type).toBe('kafka');
        expect(trigger.metadata.consumerGroup).toBe(groupIdOf(entry, env));
        expect(trigger.metadata.consumerGroup).toBe(group.defaultId);
        expect(trigger.metadata.bootstrapServersFromEnv).toBe('KAFKA_BROKERS');
        expect(env.KAFKA_BROKERS).not.toMatch(/\s/);
        expect(trigger.metadata.topic).toBe(group.topics.length === 1 ? group.topics[0] : undefined);
        expect(trigger.metadata.allowIdleConsumers).toBe('false');
        expect(Number(trigger.metadata.lagThreshold)).toBeGreaterThan(0);
        const fromBeginning = field(entry, 'FROM_BEGINNING').parse(env.FROM_BEGINNING);
        expect(trigger.metadata.offsetResetPolicy).toBe(fromBeginning ? 'earliest' : 'latest');
        const ssl = field(entry, 'KAFKA_SSL').parse(env.KAFKA_SSL);
        expect(trigger.metadata.tls).toBe(ssl ? 'enable' : undefined);
        // Lag that does not move (a sink down) must not scale the group up to its partitions.
        expect(trigger.metadata.excludePersistentLag).toBe('true');
      });

      it("signs in to MSK as the workers do: IAM with the workload's role (the scaler) and KAFKA_SASL_MECHANISM (the pods)", () => {
        const env = environmentOf(entry);
        expect(env.KAFKA_SASL_MECHANISM).toBe('aws-msk-iam');
        expect(env.KAFKA_BROKERS!.split(',').every((b) => b.endsWith(':9098'))).toBe(true);
        const trigger = find('ScaledObject', entry.name)!.spec.triggers[0];
        expect(trigger.metadata).toMatchObject({
          sasl: 'aws_msk_iam',
          tls: 'enable',
          awsRegion: env.AWS_REGION,
        });
        const auth = find('TriggerAuthentication', trigger.authenticationRef.name)!;
        expect(auth.spec.podIdentity).toEqual({ provider: 'aws', identityOwner: 'workload' });
      });
    } else {
      it('scales on the length of its BullMQ wait list', () => {
        const scaled = find('ScaledObject', entry.name)!;
        const env = environmentOf(entry);
        const prefix = String(field(entry, 'NOTIFY_PREFIX').parse(env.NOTIFY_PREFIX));
        const queue = String(field(entry, 'NOTIFY_QUEUE').parse(env.NOTIFY_QUEUE));
        const [trigger] = scaled.spec.triggers;
        expect(trigger.type).toBe('redis');
        expect(trigger.metadata.listName).toBe(new QueueKeys(prefix).getKeys(queue).wait);
        expect(Number(trigger.metadata.listLength)).toBeGreaterThan(0);
        expect(scaled.spec.minReplicaCount).toBe(1);
        const auth = find('TriggerAuthentication', trigger.authenticationRef.name)!;
        for (const ref of auth.spec.secretTargetRef) {
          expect(find('Secret', ref.name)!.stringData, ref.name).toHaveProperty(ref.key);
        }
      });
    }
  });

  // The IAM roles' trust policies (infra/aws, rendered separately) name the service accounts they admit.
  it.runIf(existsSync(awsTemplate))(
    'every ServiceAccount is the one its IAM role in infra/aws trusts',
    () => {
      const template = readFileSync(awsTemplate, 'utf8');
      const namespace = find('Namespace', 'koo-pipeline')!.metadata.name;
      expect(JSON.parse(template).Parameters.ServiceAccountNamespace.Default).toBe(namespace);
      for (const entry of catalog) {
        const account = docs.find(
          (d) => d.file === `${entry.name}.yaml` && d.object.kind === 'ServiceAccount',
        )!;
        const name = account.object.metadata.name;
        expect(template, entry.name).toContain(`"RoleName": "${name}"`);
        expect(template, entry.name).toContain(`system:serviceaccount:\${ServiceAccountNamespace}:${name}`);
      }
    },
  );

  it('the empty DYNAMODB_ENDPOINT/S3_ENDPOINT of config.yaml parse as "no endpoint" (AWS)', () => {
    for (const entry of catalog) {
      const env = environmentOf(entry);
      for (const name of EMPTY_ENDPOINTS) {
        expect(field(entry, name).safeParse(env[name]), `${entry.name} ${name}`).toEqual({
          success: true,
          data: undefined,
        });
      }
    }
  });
});
