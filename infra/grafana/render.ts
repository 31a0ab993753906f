/**
 * Renders the Grafana dashboard of the pipeline, infra/grafana/koo-pipeline.json, from the metric
 * names of shared/metrics/metrics.ts and the workers of workers/catalog.ts.
 *
 *   node infra/grafana/render.ts           write the file
 *   node infra/grafana/render.ts --check   exit 1 if the checked-in file differs from the render
 *
 * Import it in Grafana (Dashboards → Import) or provision it; the Prometheus data source is the
 * DS_PROMETHEUS variable. Metrics without a `worker` label (DynamoDB, Redis, process) are filtered
 * by the pod name, which Prometheus' Kubernetes pod discovery attaches as `pod`: Deployment pods
 * are named `<worker>-<replicaset hash>-<suffix>` (infra/k8s).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { catalog } from '../../workers/catalog.ts';

export const grafanaDir = dirname(fileURLToPath(import.meta.url));
export const dashboardFile = join(grafanaDir, 'koo-pipeline.json');

const DS = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };
/** Selector of the metrics that carry a `worker` label. */
const W = 'worker=~"$worker"';
/** Selector of per-process metrics: the pods of the selected workers' Deployments. */
const P = 'pod=~"($worker)-[a-z0-9]+-[a-z0-9]+"';
const RATE = '[$__rate_interval]';

interface Target {
  expr: string;
  legend: string;
}

interface PanelSpec {
  title: string;
  description?: string;
  unit: string;
  targets: Target[];
  /** Grid columns out of 24 (default 8: three panels a line). */
  width?: number;
  type?: 'timeseries' | 'stat';
}

interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

const quantiles = (metric: string, by: string, selector = '', legend = `{{${by}}}`): Target[] =>
  [0.5, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (${by ? `${by}, ` : ''}le) (rate(${metric}_bucket${selector ? `{${selector}}` : ''}${RATE})))`,
    legend: `${legend} p${q * 100}`.trim(),
  }));

export const rows: RowSpec[] = [
  {
    title: 'Throughput',
    panels: [
      {
        title: 'Events consumed by worker',
        unit: 'ops',
        width: 12,
        targets: [
          {
            expr: `sum by (worker) (rate(koo_events_consumed_total{${W}}${RATE}))`,
            legend: '{{worker}}',
          },
        ],
      },
      {
        title: 'Events consumed by topic',
        unit: 'ops',
        width: 12,
        targets: [
          {
            expr: `sum by (worker, topic) (rate(koo_events_consumed_total{${W}}${RATE}))`,
            legend: '{{worker}} {{topic}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Lag',
    panels: [
      {
        title: 'Consumer lag by worker',
        description:
          'Records between the last processed offset and the partition end, as of the last batch. A partition ' +
          'counts once (max over pods: a pod that lost a partition in a rebalance keeps exporting its last value).',
        unit: 'short',
        width: 12,
        targets: [
          {
            expr: `sum by (worker) (max by (worker, topic, partition) (koo_consumer_lag_records{${W}}))`,
            legend: '{{worker}}',
          },
        ],
      },
      {
        title: 'Consumer lag per partition',
        unit: 'short',
        width: 12,
        targets: [
          {
            expr: `max by (worker, topic, partition) (koo_consumer_lag_records{${W}})`,
            legend: '{{worker}} {{topic}}/{{partition}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Batch latency',
    panels: [
      {
        title: 'Batch duration (arrival to commit)',
        unit: 's',
        width: 12,
        targets: quantiles('koo_batch_duration_seconds', 'worker', W),
      },
      {
        title: 'Offset commit duration',
        unit: 's',
        width: 12,
        targets: quantiles('koo_offset_commit_duration_seconds', 'worker', W),
      },
    ],
  },
  {
    title: 'DLQ',
    panels: [
      {
        title: 'Records dead-lettered by code',
        unit: 'ops',
        width: 16,
        targets: [
          {
            expr: `sum by (worker, code) (rate(koo_events_dead_lettered_total{${W}}${RATE}))`,
            legend: '{{worker}} {{code}}',
          },
        ],
      },
      {
        title: 'Dead-lettered in the time range',
        unit: 'short',
        width: 8,
        type: 'stat',
        targets: [
          {
            expr: `sum by (code) (increase(koo_events_dead_lettered_total{${W}}[$__range]))`,
            legend: '{{code}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Retries',
    panels: [
      {
        title: 'Batches retried after a retriable error',
        unit: 'ops',
        width: 24,
        targets: [
          {
            expr: `sum by (worker, topic) (rate(koo_batch_retries_total{${W}}${RATE}))`,
            legend: '{{worker}} {{topic}}',
          },
        ],
      },
    ],
  },
  {
    title: 'DynamoDB',
    panels: [
      {
        title: 'Requests by operation and outcome',
        unit: 'reqps',
        width: 12,
        targets: [
          {
            expr: `sum by (operation, outcome) (rate(koo_dynamodb_requests_total{${P}}${RATE}))`,
            legend: '{{operation}} {{outcome}}',
          },
        ],
      },
      {
        title: 'Throttles and unprocessed items retried',
        unit: 'ops',
        width: 12,
        targets: [
          {
            expr: `sum by (operation) (rate(koo_dynamodb_throttles_total{${P}}${RATE}))`,
            legend: '{{operation}}',
          },
        ],
      },
      {
        title: 'Request latency p99',
        unit: 's',
        width: 12,
        targets: [
          {
            expr: `histogram_quantile(0.99, sum by (operation, le) (rate(koo_dynamodb_request_duration_seconds_bucket{${P}}${RATE})))`,
            legend: '{{operation}}',
          },
        ],
      },
      {
        title: 'Redis round trips',
        unit: 'reqps',
        width: 12,
        targets: [
          {
            expr: `sum by (operation) (rate(koo_redis_requests_total{${P}}${RATE}))`,
            legend: '{{operation}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Notifications',
    panels: [
      {
        title: 'Queue jobs by state',
        description: 'Every sender refreshes the same gauges: max over pods.',
        unit: 'short',
        targets: [{ expr: 'max by (queue, state) (koo_notify_queue_jobs)', legend: '{{queue}} {{state}}' }],
      },
      {
        title: 'Jobs processed by kind and outcome',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (kind, outcome) (rate(koo_notifications_processed_total${RATE}))`,
            legend: '{{kind}} {{outcome}}',
          },
        ],
      },
      {
        title: 'Failed delivery attempts',
        unit: 'ops',
        targets: [
          {
            expr: `sum(rate(koo_notification_attempts_failed_total${RATE}))`,
            legend: 'failed attempts',
          },
        ],
      },
      {
        title: 'Delivery latency (due to delivered)',
        unit: 's',
        width: 12,
        targets: quantiles('koo_notification_delivery_latency_seconds', '', '', 'delivery'),
      },
      {
        title: 'Jobs scheduled and events skipped (notify)',
        unit: 'ops',
        width: 12,
        targets: [
          { expr: `sum(rate(koo_notify_jobs_scheduled_total${RATE}))`, legend: 'scheduled' },
          { expr: `sum(rate(koo_notify_events_skipped_total${RATE}))`, legend: 'skipped' },
        ],
      },
    ],
  },
  {
    title: 'Feed fan-out',
    panels: [
      {
        title: 'Fan-outs running',
        unit: 'short',
        width: 6,
        targets: [{ expr: 'sum by (kind) (koo_feed_fanouts_running)', legend: '{{kind}}' }],
      },
      {
        title: 'Followers pending',
        unit: 'short',
        width: 6,
        targets: [{ expr: 'sum(koo_feed_fanout_pending_followers)', legend: 'pending' }],
      },
      {
        title: 'Fan-out duration p99',
        unit: 's',
        width: 6,
        targets: [
          {
            expr: `histogram_quantile(0.99, sum by (kind, le) (rate(koo_feed_fanout_duration_seconds_bucket${RATE})))`,
            legend: '{{kind}}',
          },
        ],
      },
      {
        title: 'Feed entries written and removed',
        unit: 'ops',
        width: 6,
        targets: [
          {
            expr: `sum by (operation, cause) (rate(koo_feed_entries_total${RATE}))`,
            legend: '{{operation}} {{cause}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Lake',
    panels: [
      {
        title: 'Objects written',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (topic, reason) (rate(koo_lake_objects_written_total${RATE}))`,
            legend: '{{topic}} {{reason}}',
          },
        ],
      },
      {
        title: 'Bytes written',
        unit: 'Bps',
        targets: [
          {
            expr: `sum by (topic) (rate(koo_lake_bytes_written_total${RATE}))`,
            legend: '{{topic}}',
          },
        ],
      },
      {
        title: 'Segment upload duration p99',
        unit: 's',
        targets: [
          {
            expr: `histogram_quantile(0.99, sum by (topic, le) (rate(koo_lake_upload_duration_seconds_bucket${RATE})))`,
            legend: '{{topic}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Process',
    panels: [
      {
        title: 'CPU',
        unit: 'short',
        width: 12,
        description: 'Cores used per pod.',
        targets: [
          {
            expr: `sum by (pod) (rate(koo_process_cpu_seconds_total{${P}}${RATE}))`,
            legend: '{{pod}}',
          },
        ],
      },
      {
        title: 'Resident memory',
        unit: 'bytes',
        width: 12,
        targets: [{ expr: `sum by (pod) (koo_process_resident_memory_bytes{${P}})`, legend: '{{pod}}' }],
      },
      {
        title: 'V8 heap used',
        unit: 'bytes',
        width: 12,
        targets: [{ expr: `sum by (pod) (koo_nodejs_heap_size_used_bytes{${P}})`, legend: '{{pod}}' }],
      },
      {
        title: 'Event loop lag p99',
        unit: 's',
        width: 12,
        targets: [{ expr: `max by (pod) (koo_nodejs_eventloop_lag_p99_seconds{${P}})`, legend: '{{pod}}' }],
      },
    ],
  },
];

type Json = Record<string, unknown>;

function panelJson(spec: PanelSpec, id: number, gridPos: Json): Json {
  const targets = spec.targets.map((t, i) => ({
    datasource: DS,
    editorMode: 'code',
    expr: t.expr,
    legendFormat: t.legend,
    range: spec.type !== 'stat',
    instant: spec.type === 'stat',
    refId: String.fromCharCode(65 + i),
  }));
  if (spec.type === 'stat') {
    return {
      id,
      type: 'stat',
      title: spec.title,
      ...(spec.description ? { description: spec.description } : {}),
      datasource: DS,
      gridPos,
      fieldConfig: {
        defaults: { unit: spec.unit, color: { mode: 'thresholds' }, thresholds: thresholds() },
        overrides: [],
      },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        colorMode: 'value',
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'auto',
      },
      targets,
    };
  }
  return {
    id,
    type: 'timeseries',
    title: spec.title,
    ...(spec.description ? { description: spec.description } : {}),
    datasource: DS,
    gridPos,
    fieldConfig: {
      defaults: {
        unit: spec.unit,
        min: 0,
        color: { mode: 'palette-classic' },
        custom: {
          drawStyle: 'line',
          lineWidth: 1,
          fillOpacity: 10,
          showPoints: 'never',
          spanNulls: false,
          stacking: { mode: 'none', group: 'A' },
        },
        thresholds: thresholds(),
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    targets,
  };
}

const thresholds = () => ({ mode: 'absolute', steps: [{ color: 'green', value: null }] });

export function buildDashboard(): Json {
  const panels: Json[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    for (const spec of row.panels) {
      const w = spec.width ?? 8;
      if (x + w > 24) {
        x = 0;
        y += 8;
      }
      panels.push(panelJson(spec, id++, { h: 8, w, x, y }));
      x += w;
    }
    y += 8;
  }
  const workers = catalog.map((e) => e.name);
  return {
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    description:
      'koo-pipeline stream workers: throughput, lag, latency, DLQ, sinks, notifications, feeds, lake. ' +
      'Generated by infra/grafana/render.ts: do not edit, render.',
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    links: [],
    panels,
    refresh: '30s',
    schemaVersion: 39,
    tags: ['koo-pipeline', 'kafka'],
    templating: {
      list: [
        {
          name: 'DS_PROMETHEUS',
          label: 'Prometheus',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
          includeAll: false,
          multi: false,
          options: [],
          refresh: 1,
          regex: '',
          skipUrlSync: false,
        },
        {
          name: 'worker',
          label: 'worker',
          description: 'Workers of workers/catalog.ts',
          type: 'custom',
          query: workers.join(','),
          current: { selected: true, text: ['All'], value: ['$__all'] },
          options: [
            { selected: true, text: 'All', value: '$__all' },
            ...workers.map((w) => ({ selected: false, text: w, value: w })),
          ],
          hide: 0,
          includeAll: true,
          multi: true,
          skipUrlSync: false,
        },
      ],
    },
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: '',
    title: 'koo-pipeline',
    uid: 'koo-pipeline',
    version: 1,
    weekStart: '',
  };
}

/** The dashboard JSON exactly as checked in (prettier-formatted). */
export async function renderDashboard(): Promise<string> {
  const options = (await prettier.resolveConfig(dashboardFile)) ?? {};
  return prettier.format(JSON.stringify(buildDashboard(), null, 2), { ...options, filepath: dashboardFile });
}

async function main(): Promise<void> {
  const text = await renderDashboard();
  if (process.argv.includes('--check')) {
    let current: string | undefined;
    try {
      current = readFileSync(dashboardFile, 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== text) {
      console.error('infra/grafana/koo-pipeline.json differs from the render');
      console.error('run `node infra/grafana/render.ts` and commit the result');
      process.exit(1);
    }
    console.log('infra/grafana/koo-pipeline.json matches the render');
    return;
  }
  writeFileSync(dashboardFile, text);
  console.log('infra/grafana: wrote koo-pipeline.json');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
