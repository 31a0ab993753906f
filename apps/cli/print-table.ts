/** A plain-text table of rows (columns in order of first appearance), for people reading a terminal. */
export function formatTable(rows: readonly object[]): string {
  const cells = rows.map((r) => new Map(Object.entries(r).map(([k, v]) => [k, String(v ?? '')])));
  const keys = [...new Set(cells.flatMap((r) => [...r.keys()]))];
  const widths = keys.map((k) => Math.max(k.length, ...cells.map((r) => (r.get(k) ?? '').length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ');
  return [
    line(keys),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.map((r) => line(keys.map((k) => r.get(k) ?? ''))),
  ].join('\n');
}
