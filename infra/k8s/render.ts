/**
 * Renders the Kubernetes manifests of the pipeline from workers/catalog.ts into infra/k8s/:
 * a namespace, the shared ConfigMap, a Secret template, and per catalog entry a ServiceAccount
 * (IRSA), a Deployment, a PodDisruptionBudget and a KEDA ScaledObject; plus the kustomization.
 *
 *   node infra/k8s/render.ts           write the files
 *   node infra/k8s/render.ts --check   exit 1 if the checked-in files differ from the render
 *
 * The output is formatted with the repository's prettier settings, so `prettier --check .` and
 * `--check` agree. Partition counts come from schemas/topics.ts, which reads DEFAULT_PARTITIONS like
 * provisioning does: render with the same value. Nothing here is hand-edited: change this script (or the catalog) and render.
 */
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { Document, isMap, isScalar } from 'yaml';
import type { z } from 'zod';
import { topics } from '../../schemas/topics.ts';
import { catalog, groupIdOf, type CatalogEntry } from '../../workers/catalog.ts';

export const k8sDir = dirname(fileURLToPath(import.meta.url));

export const NAMESPACE = 'koo-pipeline';
export const IMAGE = 'koo-pipeline:latest';
export const CONFIG_MAP = 'koo-pipeline-config';
export const SECRET = 'koo-pipeline-secrets';
export const KEDA_REDIS_SECRET = 'koo-pipeline-keda-redis';
/** KEDA's Kafka scalers sign in to MSK with the IAM role of the workload they scale (IRSA). */
export const KEDA_MSK_AUTH = 'koo-pipeline-keda-msk';
/** HTTP_PORT in the pods: /healthz, /readyz and /metrics (the local default 0 picks a random port). */
export const HTTP_PORT = 9464;
const PART_OF = 'koo-pipeline';
/** Placeholders are marked so that `grep -r REPLACE-ME infra/k8s` lists what an environment must fill in. */
const AWS_ACCOUNT = 'REPLACE-ME-ACCOUNT-ID';

/**
 * Shared settings, production-shaped. Every key must be a variable of every worker's schema (the
 * common schema), checked by test/unit/k8s.test.ts.
 */
export const sharedConfig: Record<string, string> = {
  KAFKA_BROKERS: [1, 2, 3].map((n) => `b-${n}.REPLACE-ME.kafka.ap-south-1.amazonaws.com:9098`).join(','),
  KAFKA_SSL: 'true',
  KAFKA_SASL_MECHANISM: 'aws-msk-iam',
  SCHEMA_REGISTRY_URL: 'https://schema-registry.REPLACE-ME.internal/apis/ccompat/v7',
  AWS_REGION: 'ap-south-1',
  // Empty: AWS endpoints, as README "Running against AWS" documents (see the comment in config.yaml).
  DYNAMODB_ENDPOINT: '',
  S3_ENDPOINT: '',
  TABLE_PREFIX: 'prod_',
  LAKE_BUCKET: 'koo-lake-prod',
  BODY_BUCKET: 'koo-bodies-prod',
  LOG_LEVEL: 'info',
};

/** The Secret template's keys (not applied by kustomize: create the real one out of band). */
export const secretExample: Record<string, string> = {
  REDIS_URL: 'rediss://:REPLACE-ME-AUTH-TOKEN@REPLACE-ME.cache.amazonaws.com:6379',
};

interface Resources {
  cpu: string;
  cpuLimit: string;
  /** Mi */
  memory: number;
  /** Mi */
  memoryLimit: number;
}

/** What the catalog does not say: sizing, scaling and the few settings that differ in production. */
interface WorkerProfile {
  resources: Resources;
  /** Why the sizing; rendered as a comment. */
  sizing: string;
  /** Variables set on the container besides HTTP_PORT (only those that differ from the defaults). */
  env?: Record<string, string>;
  envComment?: string;
  /** KEDA kafka trigger: lag (records) per replica. */
  lagThreshold?: number;
  lagComment?: string;
  /** Mounts the Secret (REDIS_URL). Only workers that talk to Redis get it. */
  usesRedis: boolean;
}

const MiB = 1024 * 1024;

/** A worker's variable as its schema reads `value` (undefined: the default). */
function parseVariable(entry: CatalogEntry, name: string, value: string | undefined): unknown {
  const field = entry.configSchema.shape[name] as z.ZodType | undefined;
  if (!field) throw new Error(`${name} is not a variable of ${entry.name}`);
  return field.parse(value);
}

/** A worker's default of a numeric variable, from its schema (so sizing follows the code). */
function defaultOf(worker: string, variable: string): number {
  const entry = catalog.find((e) => e.name === worker);
  if (!entry) throw new Error(`no worker ${worker} in the catalogue`);
  return Number(parseVariable(entry, variable, undefined));
}

const lakeRotateRows = defaultOf('lake', 'LAKE_ROTATE_ROWS');
const lakeRotateBytes = defaultOf('lake', 'LAKE_ROTATE_BYTES');
const count = (n: number) => n.toLocaleString('en-US');

/** KEDA's lag per replica for a batch worker: `batches` of its default BATCH_SIZE, with the comment saying so. */
function batchLag(worker: string, batches: string, factor: number, why = '') {
  const batch = defaultOf(worker, 'BATCH_SIZE');
  return { lagThreshold: factor * batch, lagComment: `${batches} batches of ${count(batch)}${why}` };
}

export const profiles: Record<string, WorkerProfile> = {
  content: {
    resources: { cpu: '250m', cpuLimit: '1', memory: 256, memoryLimit: 512 },
    sizing: `Batches of ${count(defaultOf('content', 'BATCH_SIZE'))} CDC records and their DynamoDB writes; no state held between batches`,
    ...batchLag('content', 'about ten', 10, ' per replica'),
    usesRedis: false,
  },
  reactions: {
    resources: { cpu: '250m', cpuLimit: '1', memory: 384, memoryLimit: 768 },
    sizing: `Batches of ${count(defaultOf('reactions', 'BATCH_SIZE'))} reactions decoded at once`,
    ...batchLag('reactions', 'five', 5, ', counter updates being cheap per record'),
    usesRedis: false,
  },
  engagement: {
    resources: { cpu: '250m', cpuLimit: '1', memory: 384, memoryLimit: 768 },
    sizing: `Batches of ${count(defaultOf('engagement', 'BATCH_SIZE'))}; each batch is written before the next (no score deltas are held between batches)`,
    ...batchLag('engagement', 'ten', 10, ' per replica'),
    usesRedis: true,
  },
  feed: {
    resources: { cpu: '250m', cpuLimit: '1', memory: 384, memoryLimit: 768 },
    sizing: 'Fan-out pages of 5,000 followers, 2 koos at once',
    lagThreshold: 2_000,
    lagComment: 'a koo fans out to every follower: little lag is already much work',
    usesRedis: false,
  },
  lake: {
    resources: { cpu: '500m', cpuLimit: '2', memory: 2048, memoryLimit: 4096 },
    sizing:
      `Each assigned partition holds an open segment in memory (up to LAKE_ROTATE_BYTES = ` +
      `${lakeRotateBytes / MiB} MiB of Kafka bytes, decoded into rows, for up to LAKE_ROTATE_AGE_MS), ` +
      'and a cut encodes a whole segment to Parquet; more replicas mean fewer partitions per pod',
    lagThreshold: lakeRotateRows,
    lagComment:
      'the lake commits only at segment cuts, so its lag includes the open segments (up to ' +
      'LAKE_ROTATE_ROWS per partition, or LAKE_ROTATE_AGE_MS of records) by design: one replica per ' +
      'LAKE_ROTATE_ROWS of lag keeps that from pinning it at the maximum',
    env: { LAKE_CATALOG_URL: 'glue://koo_lake', GLUE_ENDPOINT: '' },
    envComment:
      'The Iceberg tables are in the Glue database the CloudFormation stack creates (its parameter ' +
      'LakeCatalogDatabaseName, output LakeCatalogDatabaseName); the IRSA role grants the calls',
    usesRedis: false,
  },
  notify: {
    resources: { cpu: '250m', cpuLimit: '1', memory: 256, memoryLimit: 512 },
    sizing: `Batches of ${count(defaultOf('notify', 'BATCH_SIZE'))} events into Redis aggregates; profile lookups`,
    env: { FROM_BEGINNING: 'false' },
    envComment:
      'A new notify group must start at the end of the topics: from the beginning it would send ' +
      'notifications for the whole retention (30 days) on a fresh Redis',
    ...batchLag('notify', 'twenty', 20, ' per replica'),
    usesRedis: true,
  },
  'notify-sender': {
    resources: { cpu: '100m', cpuLimit: '500m', memory: 128, memoryLimit: 256 },
    sizing: 'NOTIFY_SENDER_CONCURRENCY webhook calls in flight; no other state',
    env: { NOTIFY_WEBHOOK_URL: 'http://push-gateway.REPLACE-ME.svc.cluster.local/notifications' },
    envComment: 'The push gateway (the default is the local stub on 127.0.0.1)',
    usesRedis: true,
  },
};

/** Seconds the kubelet waits after SIGTERM beyond SHUTDOWN_TIMEOUT_MS before SIGKILL. */
const GRACE_MARGIN_SECONDS = 6;
/** Assumed webhook round trip when sizing the sender's replicas against the global rate limit. */
const ASSUMED_WEBHOOK_SECONDS = 0.2;

type Obj = Record<string, unknown>;

/** One YAML document: the object, a comment above it, and comments above keys (dotted paths). */
export interface ManifestDoc {
  object: Obj;
  comment?: string;
  keyComments?: Record<string, string>;
}

export interface ManifestFile {
  file: string;
  docs: ManifestDoc[];
}

const labelsOf = (name: string, component: string) => ({
  'app.kubernetes.io/name': name,
  'app.kubernetes.io/component': component,
  'app.kubernetes.io/part-of': PART_OF,
});
const selectorOf = (name: string) => ({
  'app.kubernetes.io/name': name,
  'app.kubernetes.io/part-of': PART_OF,
});

function requireKeys(entry: CatalogEntry, keys: Iterable<string>, where: string): void {
  for (const key of keys) {
    if (!(key in entry.configSchema.shape)) {
      throw new Error(
        `${where}: ${key} is not a variable of ${entry.name} (workers/catalog.ts configSchema)`,
      );
    }
  }
}

/** The partitions that cap a consumer group's replicas: the fewest of any of its topics. */
export function partitionCap(entry: CatalogEntry): number {
  if (!entry.group) throw new Error(`${entry.name} has no consumer group`);
  const counts = entry.group.topics.map((name) => {
    const topic = topics.find((t) => t.name === name);
    if (!topic) throw new Error(`${entry.name}: topic ${name} is not in schemas/topics.ts`);
    return topic.partitions;
  });
  return Math.min(...counts);
}

function workerEnv(profile: WorkerProfile): Record<string, string> {
  return { HTTP_PORT: String(HTTP_PORT), ...profile.env };
}

/** Everything the container sees from this render: the shared ConfigMap, the Secret if mounted, its own env. */
export function environmentOf(entry: CatalogEntry): Record<string, string> {
  const profile = profileOf(entry);
  return {
    ...sharedConfig,
    ...(profile.usesRedis ? secretExample : {}),
    ...workerEnv(profile),
  };
}

/** What the worker makes of a variable under this render's environment. */
function effective(entry: CatalogEntry, name: string): unknown {
  return parseVariable(entry, name, environmentOf(entry)[name]);
}

function profileOf(entry: CatalogEntry): WorkerProfile {
  const profile = profiles[entry.name];
  if (!profile) throw new Error(`no profile for catalog entry ${entry.name}: add one to infra/k8s/render.ts`);
  return profile;
}

function shutdownGraceSeconds(entry: CatalogEntry): { grace: number; timeoutMs: number } {
  const timeoutMs = Number(effective(entry, 'SHUTDOWN_TIMEOUT_MS'));
  return { grace: Math.ceil(timeoutMs / 1000) + GRACE_MARGIN_SECONDS, timeoutMs };
}

const componentOf = (entry: CatalogEntry) => (entry.group ? 'kafka-consumer' : 'queue-worker');

/**
 * The worker's ServiceAccount, named like its IAM role: the role's trust policy (infra/aws) admits
 * exactly `system:serviceaccount:koo-pipeline:koo-pipeline-<worker>`.
 */
export const serviceAccountName = (entry: CatalogEntry): string => `koo-pipeline-${entry.name}`;

function serviceAccount(entry: CatalogEntry): ManifestDoc {
  return {
    comment:
      `IRSA: the pod's AWS credentials come from the IAM role ${serviceAccountName(entry)} (infra/aws), ` +
      'whose trust policy admits this ServiceAccount and whose policy grants only what this worker touches. ' +
      'No access keys anywhere.',
    object: {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: {
        name: serviceAccountName(entry),
        namespace: NAMESPACE,
        labels: labelsOf(entry.name, componentOf(entry)),
        annotations: {
          'eks.amazonaws.com/role-arn': `arn:aws:iam::${AWS_ACCOUNT}:role/${serviceAccountName(entry)}`,
        },
      },
    },
  };
}

function deployment(entry: CatalogEntry): ManifestDoc {
  const profile = profileOf(entry);
  const env = workerEnv(profile);
  requireKeys(entry, Object.keys(env), `${entry.name}.yaml env`);
  const { grace, timeoutMs } = shutdownGraceSeconds(entry);
  const { resources } = profile;
  // V8's heap is sized to the container, not the node: leave a quarter for buffers and native memory.
  const heapMi = Math.floor(resources.memoryLimit * 0.75);
  const labels = labelsOf(entry.name, componentOf(entry));
  const envFrom: Obj[] = [{ configMapRef: { name: CONFIG_MAP } }];
  if (profile.usesRedis) envFrom.push({ secretRef: { name: SECRET } });
  const drains = entry.group
    ? 'finishes the batch in hand and commits its offsets'
    : 'lets the jobs in flight finish (a job cut off is retried by BullMQ)';
  const dependencies = entry.group ? 'Kafka or the sink' : 'the queue or Redis';
  const keyComments: Record<string, string> = {
    'spec.template.spec.terminationGracePeriodSeconds':
      `On SIGTERM the process ${drains} within SHUTDOWN_TIMEOUT_MS (${timeoutMs} ms), then exits; ` +
      `${GRACE_MARGIN_SECONDS} s of margin before SIGKILL. No preStop hook: no Service routes to these pods, ` +
      'so there is nothing to drain before the signal.',
    'spec.template.spec.containers.0.resources': `${profile.sizing}.`,
    'spec.template.spec.containers.0.livenessProbe':
      '/healthz answers while the event loop does; a minute without an answer restarts the pod.',
    'spec.template.spec.containers.0.readinessProbe':
      `/readyz turns 503 when ${dependencies} is unreachable. No traffic is routed here: readiness ` +
      'gates rollouts (maxUnavailable 0) and shows in `kubectl get pods`.',
    'spec.template.spec.containers.0.command':
      'The V8 heap is capped at 3/4 of the memory limit: garbage is collected before the container ' +
      'limit is reached, and an overrun is a heap error in the log rather than a silent OOM kill.',
  };
  if (profile.envComment) keyComments['spec.template.spec.containers.0.env'] = `${profile.envComment}.`;
  return {
    comment:
      `${entry.name}: ${entry.description}.\n` +
      'Replicas are left to the ScaledObject below (no spec.replicas, so applying does not reset them).',
    keyComments,
    object: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: entry.name, namespace: NAMESPACE, labels },
      spec: {
        revisionHistoryLimit: 5,
        selector: { matchLabels: selectorOf(entry.name) },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: {
            labels,
            annotations: {
              'prometheus.io/scrape': 'true',
              'prometheus.io/port': String(HTTP_PORT),
              'prometheus.io/path': '/metrics',
            },
          },
          spec: {
            serviceAccountName: serviceAccountName(entry),
            // The workers never call the Kubernetes API; IRSA mounts its own projected token.
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: grace,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 1000,
              runAsGroup: 1000,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'topology.kubernetes.io/zone',
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: selectorOf(entry.name) },
              },
            ],
            containers: [
              {
                name: entry.name,
                image: IMAGE,
                imagePullPolicy: 'IfNotPresent',
                command: ['node', `--max-old-space-size=${heapMi}`, entry.main],
                envFrom,
                env: Object.entries(env).map(([name, value]) => ({ name, value })),
                ports: [{ name: 'metrics', containerPort: HTTP_PORT, protocol: 'TCP' }],
                startupProbe: {
                  httpGet: { path: '/healthz', port: 'metrics' },
                  periodSeconds: 2,
                  timeoutSeconds: 2,
                  failureThreshold: 30,
                },
                livenessProbe: {
                  httpGet: { path: '/healthz', port: 'metrics' },
                  periodSeconds: 10,
                  timeoutSeconds: 5,
                  failureThreshold: 6,
                },
                readinessProbe: {
                  httpGet: { path: '/readyz', port: 'metrics' },
                  periodSeconds: 10,
                  timeoutSeconds: 5,
                  failureThreshold: 3,
                },
                resources: {
                  requests: { cpu: resources.cpu, memory: `${resources.memory}Mi` },
                  limits: { cpu: resources.cpuLimit, memory: `${resources.memoryLimit}Mi` },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
          },
        },
      },
    },
  };
}

function podDisruptionBudget(entry: CatalogEntry): ManifestDoc {
  return {
    comment: entry.group
      ? 'One pod at a time on node drains: each eviction is a consumer-group rebalance.'
      : 'One pod at a time on node drains.',
    object: {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: entry.name, namespace: NAMESPACE, labels: labelsOf(entry.name, componentOf(entry)) },
      spec: { maxUnavailable: 1, selector: { matchLabels: selectorOf(entry.name) } },
    },
  };
}

/** Scale slowly down and moderately up: every replica change rebalances the group (or the queue). */
const hpaBehavior = {
  horizontalPodAutoscalerConfig: {
    behavior: {
      scaleUp: { stabilizationWindowSeconds: 60, policies: [{ type: 'Pods', value: 2, periodSeconds: 60 }] },
      scaleDown: {
        stabilizationWindowSeconds: 600,
        policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }],
      },
    },
  },
};

function kafkaScaledObject(entry: CatalogEntry): ManifestDoc {
  const group = entry.group!;
  const profile = profileOf(entry);
  const env = environmentOf(entry);
  if (!profile.lagThreshold) throw new Error(`${entry.name}: a Kafka consumer needs a lagThreshold`);
  const fromBeginning = Boolean(effective(entry, 'FROM_BEGINNING'));
  const ssl = env.KAFKA_SSL === 'true';
  const metadata: Record<string, string> = {
    bootstrapServersFromEnv: 'KAFKA_BROKERS',
    consumerGroup: groupIdOf(entry, env)!,
  };
  if (group.topics.length === 1) metadata.topic = group.topics[0]!;
  Object.assign(metadata, {
    lagThreshold: String(profile.lagThreshold),
    offsetResetPolicy: fromBeginning ? 'earliest' : 'latest',
    allowIdleConsumers: 'false',
  });
  // A partition whose committed offset does not move between polls (its sink is down, a batch is
  // stuck) adds no replicas: they could not fix it and would load the struggling sink further.
  metadata.excludePersistentLag = 'true';
  if (ssl) metadata.tls = 'enable';
  const iam = env.KAFKA_SASL_MECHANISM === 'aws-msk-iam';
  if (iam) Object.assign(metadata, { sasl: 'aws_msk_iam', awsRegion: env.AWS_REGION });
  const cap = partitionCap(entry);
  return {
    comment:
      `KEDA: one replica per ${profile.lagThreshold} records of the group's lag; ${profile.lagComment}.\n` +
      (group.topics.length === 1
        ? `At most ${cap}, the partitions of ${group.topics[0]} (schemas/topics.ts): more would sit idle.`
        : `At most ${cap}, the partitions of the smallest of ${group.topics.join(', ')} ` +
          '(schemas/topics.ts): more would sit idle on that topic.'),
    keyComments: {
      'spec.triggers':
        group.topics.length === 1 ? '' : 'No topic: KEDA sums the lag over every topic the group commits to.',
    },
    object: {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: entry.name, namespace: NAMESPACE, labels: labelsOf(entry.name, componentOf(entry)) },
      spec: {
        scaleTargetRef: { name: entry.name },
        pollingInterval: 30,
        minReplicaCount: 1,
        maxReplicaCount: cap,
        advanced: hpaBehavior,
        triggers: [
          { type: 'kafka', metadata, ...(iam ? { authenticationRef: { name: KEDA_MSK_AUTH } } : {}) },
        ],
      },
    },
  };
}

function queueScaledObject(entry: CatalogEntry): ManifestDoc[] {
  const value = (name: string) => Number(effective(entry, name));
  const prefix = String(effective(entry, 'NOTIFY_PREFIX'));
  const queue = String(effective(entry, 'NOTIFY_QUEUE'));
  const perPodRate = value('NOTIFY_SENDER_CONCURRENCY') / ASSUMED_WEBHOOK_SECONDS;
  const globalRate = (value('NOTIFY_RATE_MAX') * 1000) / value('NOTIFY_RATE_PERIOD_MS');
  const maxReplicas = Math.max(1, Math.ceil(globalRate / perPodRate));
  const listLength = Math.round(perPodRate * 10);
  const auth = `${entry.name}-redis`;
  return [
    {
      comment: 'KEDA reads the queue with its own Redis credentials (secret.example.yaml).',
      object: {
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'TriggerAuthentication',
        metadata: { name: auth, namespace: NAMESPACE, labels: labelsOf(entry.name, componentOf(entry)) },
        spec: {
          secretTargetRef: [
            { parameter: 'address', name: KEDA_REDIS_SECRET, key: 'address' },
            { parameter: 'password', name: KEDA_REDIS_SECRET, key: 'password' },
          ],
        },
      },
    },
    {
      comment:
        'KEDA redis trigger on the BullMQ wait list, a Redis LIST of the jobs that are due and not yet ' +
        'taken (delayed jobs wait in a ZSET until due). Chosen over a CPU HPA: the sender waits on the ' +
        'webhook, so CPU says little about its backlog. Target: about 10 s of work per replica at ' +
        `NOTIFY_SENDER_CONCURRENCY / ${ASSUMED_WEBHOOK_SECONDS} s per call = ${perPodRate} jobs/s. ` +
        `At most ${maxReplicas} replicas: the global limit NOTIFY_RATE_MAX / NOTIFY_RATE_PERIOD_MS ` +
        `(${globalRate} jobs/s) caps all senders together, more would only wait on the limiter.`,
      object: {
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'ScaledObject',
        metadata: {
          name: entry.name,
          namespace: NAMESPACE,
          labels: labelsOf(entry.name, componentOf(entry)),
        },
        spec: {
          scaleTargetRef: { name: entry.name },
          pollingInterval: 30,
          minReplicaCount: 1,
          maxReplicaCount: maxReplicas,
          advanced: hpaBehavior,
          triggers: [
            {
              type: 'redis',
              metadata: {
                listName: `${prefix}:${queue}:wait`,
                listLength: String(listLength),
                enableTLS: String(secretExample.REDIS_URL!.startsWith('rediss:')),
                databaseIndex: '0',
              },
              authenticationRef: { name: auth },
            },
          ],
        },
      },
    },
  ];
}

const GENERATED = 'Generated by infra/k8s/render.ts from workers/catalog.ts: do not edit, render.';

export function buildManifests(): ManifestFile[] {
  const files: ManifestFile[] = [];
  const redisUsers = catalog.filter((e) => profileOf(e).usesRedis).map((e) => e.name);
  files.push({
    file: 'namespace.yaml',
    docs: [
      {
        comment: GENERATED,
        object: {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: {
            name: NAMESPACE,
            labels: {
              'app.kubernetes.io/part-of': PART_OF,
              // The pods run as non-root, read-only, no capabilities: the restricted profile holds.
              'pod-security.kubernetes.io/enforce': 'restricted',
            },
          },
        },
      },
    ],
  });
  files.push({
    file: 'config.yaml',
    docs: [
      {
        comment:
          GENERATED +
          '\nSettings every worker shares: each key is a variable of every worker (README "Configuration"). ' +
          'REPLACE-ME values are per environment.',
        object: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            name: CONFIG_MAP,
            namespace: NAMESPACE,
            labels: { 'app.kubernetes.io/part-of': PART_OF },
          },
          data: sharedConfig,
        },
        keyComments: {
          'data.KAFKA_BROKERS':
            "MSK's IAM listener (9098, TLS), comma-separated without spaces (KEDA reads it too). Each worker " +
            'signs in with its IRSA role (KAFKA_SASL_MECHANISM=aws-msk-iam; the CloudFormation template grants ' +
            'it its group and topics when given MskClusterArn). SCRAM instead: port 9096, scram-sha-512, and ' +
            'KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD in the Secret.',
          'data.DYNAMODB_ENDPOINT':
            'Empty: no local endpoint, so the regional AWS endpoints and the default credential chain ' +
            '(IRSA); unset would mean the local stack on 127.0.0.1.',
        },
      },
      {
        comment:
          "KEDA's Kafka scalers read each group's lag from MSK as the workload they scale: its IRSA role, " +
          'which may describe its group and topics.',
        object: {
          apiVersion: 'keda.sh/v1alpha1',
          kind: 'TriggerAuthentication',
          metadata: {
            name: KEDA_MSK_AUTH,
            namespace: NAMESPACE,
            labels: { 'app.kubernetes.io/part-of': PART_OF },
          },
          spec: { podIdentity: { provider: 'aws', identityOwner: 'workload' } },
        },
      },
    ],
  });
  files.push({
    file: 'secret.example.yaml',
    docs: [
      {
        comment:
          GENERATED +
          '\nA template, not in kustomization.yaml: create the real Secrets out of band (kubectl create ' +
          'secret, External Secrets, ...) before the pods start. No AWS keys: AWS access is IRSA. ' +
          `REDIS_URL is mounted only by the workers that use Redis (${redisUsers.join(', ')}).`,
        object: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: SECRET, namespace: NAMESPACE, labels: { 'app.kubernetes.io/part-of': PART_OF } },
          type: 'Opaque',
          stringData: secretExample,
        },
      },
      {
        comment:
          'For KEDA only (the notify-sender TriggerAuthentication): the same Redis as host:port and password.',
        object: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {
            name: KEDA_REDIS_SECRET,
            namespace: NAMESPACE,
            labels: { 'app.kubernetes.io/part-of': PART_OF },
          },
          type: 'Opaque',
          stringData: { address: 'REPLACE-ME.cache.amazonaws.com:6379', password: 'REPLACE-ME-AUTH-TOKEN' },
        },
      },
    ],
  });
  for (const entry of catalog) {
    requireKeys(entry, Object.keys(sharedConfig), 'config.yaml');
    if (profileOf(entry).usesRedis) requireKeys(entry, Object.keys(secretExample), 'secret.example.yaml');
    const docs = [serviceAccount(entry), deployment(entry), podDisruptionBudget(entry)];
    docs.push(...(entry.group ? [kafkaScaledObject(entry)] : queueScaledObject(entry)));
    docs[0]!.comment = GENERATED + '\n' + docs[0]!.comment;
    files.push({ file: `${entry.name}.yaml`, docs });
  }
  for (const name of Object.keys(profiles)) {
    if (!catalog.some((e) => e.name === name)) throw new Error(`profile ${name} has no catalog entry`);
  }
  files.push({
    file: 'kustomization.yaml',
    docs: [
      {
        comment:
          GENERATED +
          '\nkubectl apply -k infra/k8s (KEDA must be installed: the ScaledObjects are keda.sh/v1alpha1). ' +
          'Set the image with `kustomize edit set image koo-pipeline=<registry>/koo-pipeline:<tag>`.',
        object: {
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          resources: files.map((f) => f.file).filter((f) => f !== 'secret.example.yaml'),
        },
      },
    ],
  });
  return files;
}

/** Puts `text` as a comment above the key at a dotted path (numbers index sequences). */
function commentKey(doc: Document, path: string, text: string): void {
  if (!text) return;
  const parts = path.split('.');
  const key = parts.pop()!;
  const parentPath = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
  if (!isMap(parent)) throw new Error(`no map at ${parts.join('.')}`);
  const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === key);
  if (!pair || !isScalar(pair.key)) throw new Error(`no key ${path}`);
  pair.key.commentBefore = wrap(text, COMMENT_WIDTH - 2 * (parts.length + 1));
}

const COMMENT_WIDTH = 100;

/** Word-wraps each paragraph to `width` and indents it one space (YAML puts it after `#`). */
function wrap(text: string, width: number = COMMENT_WIDTH): string {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ').filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines.map((l) => ` ${l}`).join('\n');
}

function toYaml(docs: ManifestDoc[]): string {
  return docs
    .map(({ object, comment, keyComments }) => {
      const doc = new Document(object, { aliasDuplicateObjects: false });
      if (comment) doc.commentBefore = wrap(comment);
      for (const [path, text] of Object.entries(keyComments ?? {})) commentKey(doc, path, text);
      return doc.toString({ lineWidth: 0 });
    })
    .join('---\n');
}

async function format(file: string, text: string): Promise<string> {
  const filepath = join(k8sDir, file);
  const options = (await prettier.resolveConfig(filepath)) ?? {};
  return prettier.format(text, { ...options, filepath });
}

/** File name → formatted YAML, exactly what is checked in. */
export async function renderManifests(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const { file, docs } of buildManifests()) out.set(file, await format(file, toYaml(docs)));
  return out;
}

/** YAML files in infra/k8s that the render does not produce (a removed worker's, a hand-made one). */
export function strayFiles(rendered: Map<string, string>): string[] {
  return readdirSync(k8sDir).filter((f) => /\.ya?ml$/.test(f) && !rendered.has(f));
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const rendered = await renderManifests();
  const stray = strayFiles(rendered);
  if (check) {
    const differ = [...rendered].filter(([file, text]) => {
      try {
        return readFileSync(join(k8sDir, file), 'utf8') !== text;
      } catch {
        return true;
      }
    });
    if (differ.length > 0 || stray.length > 0) {
      for (const [file] of differ) console.error(`infra/k8s/${file} differs from the render`);
      for (const file of stray) console.error(`infra/k8s/${file} is not rendered (remove it or render it)`);
      console.error('run `node infra/k8s/render.ts` and commit the result');
      process.exit(1);
    }
    console.log(`infra/k8s: ${rendered.size} files match the render`);
    return;
  }
  for (const [file, text] of rendered) writeFileSync(join(k8sDir, file), text);
  for (const file of stray) unlinkSync(join(k8sDir, file));
  console.log(
    `infra/k8s: wrote ${[...rendered.keys()].join(', ')}${stray.length ? `; removed ${stray.join(', ')}` : ''}`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
