import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { dashboardFile, renderDashboard } from '../../infra/grafana/render.ts';
import { registry } from '../../shared/metrics/metrics.ts';
import { catalog } from '../../workers/catalog.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Series names Prometheus sees for each registered metric: histograms add _bucket/_sum/_count. */
async function exposedSeries(): Promise<Map<string, string>> {
  const series = new Map<string, string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    series.set(metric.name, metric.name);
    const suffixes =
      String(metric.type) === 'histogram'
        ? ['_bucket', '_sum', '_count']
        : String(metric.type) === 'summary'
          ? ['_sum', '_count']
          : [];
    for (const suffix of suffixes) series.set(metric.name + suffix, metric.name);
  }
  return series;
}

/** Label names of a registered metric (prom-client keeps them on the metric object). */
function labelsOf(name: string): string[] {
  const metric = registry.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined;
  return [...(metric?.labelNames ?? [])];
}

/** Labels Prometheus adds to every series from the scrape target (infra/k8s pods). */
const TARGET_LABELS = ['pod'];

let rendered: string;
let dashboard: Obj;
let series: Map<string, string>;
/** Every panel, rows' nested panels included. */
let panels: Obj[];

beforeAll(async () => {
  rendered = await renderDashboard();
  dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Obj;
  series = await exposedSeries();
  panels = (dashboard.panels as Obj[]).flatMap((p) => [p, ...((p.panels as Obj[] | undefined) ?? [])]);
});

const exprs = () =>
  panels.flatMap((p) => ((p.targets as Obj[] | undefined) ?? []).map((t) => String(t.expr)));

describe('infra/grafana/koo-pipeline.json', () => {
  it('is the render (run `node infra/grafana/render.ts` after a change)', () => {
    expect(readFileSync(dashboardFile, 'utf8')).toBe(rendered);
  });

  it('every koo_* metric a panel queries is exposed by shared/metrics/metrics.ts', () => {
    const names = new Set(exprs().flatMap((e) => e.match(/\bkoo_[a-z0-9_]+/g) ?? []));
    expect(names.size).toBeGreaterThan(20);
    const missing = [...names].filter((n) => !series.has(n));
    expect(missing).toEqual([]);
  });

  it('label matchers and `by` clauses name labels the queried metrics have', () => {
    for (const expr of exprs()) {
      const metrics = [...new Set(expr.match(/\bkoo_[a-z0-9_]+/g) ?? [])].map((n) => series.get(n)!);
      const known = new Set([...metrics.flatMap(labelsOf), ...TARGET_LABELS]);
      for (const [, name, matchers] of expr.matchAll(/\b(koo_[a-z0-9_]+)\{([^}]*)\}/g)) {
        const own = new Set([...labelsOf(series.get(name!)!), ...TARGET_LABELS]);
        for (const [, label] of matchers!.matchAll(/([a-z_]+)\s*=~?/g)) {
          expect(own.has(label!), `${label} on ${name} in ${expr}`).toBe(true);
        }
      }
      for (const [, list] of expr.matchAll(/\bby \(([^)]*)\)/g)) {
        for (const label of list!.split(',').map((l) => l.trim())) {
          if (label === 'le') continue;
          expect(known.has(label), `by ${label} in ${expr}`).toBe(true);
        }
      }
    }
  });

  it('has the rows of the runbook', () => {
    const rows = panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual([
      'Throughput',
      'Lag',
      'Batch latency',
      'DLQ',
      'Retries',
      'DynamoDB',
      'Notifications',
      'Feed fan-out',
      'Lake',
      'Process',
    ]);
  });

  it('queries the DS_PROMETHEUS data source everywhere and offers every catalog worker', () => {
    expect(dashboard.schemaVersion).toBe(39);
    const variables = dashboard.templating.list as Obj[];
    expect(variables.find((v) => v.name === 'DS_PROMETHEUS')).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
    });
    const worker = variables.find((v) => v.name === 'worker')!;
    expect(String(worker.query).split(',')).toEqual(catalog.map((e) => e.name));
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource.uid, panel.title).toBe('${DS_PROMETHEUS}');
      for (const target of panel.targets) expect(target.datasource.uid).toBe('${DS_PROMETHEUS}');
    }
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('panels do not overlap', () => {
    const taken = new Set<string>();
    for (const { gridPos: g, title } of panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const cell = `${x},${y}`;
          expect(taken.has(cell), `${title} at ${cell}`).toBe(false);
          taken.add(cell);
        }
      }
    }
  });
});
