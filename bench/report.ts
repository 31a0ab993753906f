/**
 * How every benchmark reports: a table for people, or with --json one JSON object per line
 * with snake_case figures named after what they count.
 */
import { formatTable } from '../apps/cli/print-table.ts';

export type Figures = Record<string, string | number>;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function latencyFigures(samplesMs: number[], prefix = ''): Figures {
  const s = [...samplesMs].sort((a, b) => a - b);
  return {
    [`${prefix}p50_ms`]: round(percentile(s, 50)),
    [`${prefix}p95_ms`]: round(percentile(s, 95)),
    [`${prefix}p99_ms`]: round(percentile(s, 99)),
    [`${prefix}max_ms`]: round(s[s.length - 1] ?? NaN),
  };
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function report(rows: Figures[], json: boolean): void {
  if (json) {
    for (const row of rows) console.log(JSON.stringify(row));
    return;
  }
  console.log(formatTable(rows));
}
