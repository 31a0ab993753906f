/**
 * npm run bench -- <name...> [--json] [--readme]
 * Runs benchmarks against the local stack (npm run stack -- up). Each prints a table, or JSON
 * lines with --json (each with the field `benchmark`). --readme also writes each benchmark's table
 * into README.md (bench/readme-tables.ts). With no name, runs them all.
 */
import { writeReadmeTables } from './readme-tables.ts';
import { report, type Figures } from './report.ts';

const benches: Record<string, () => Promise<Figures[]>> = {
  content: async () => (await import('./content.ts')).benchContent(),
  lake: async () => (await import('./lake.ts')).benchLake(),
  feed: async () => (await import('./feed.ts')).benchFeed(),
  notify: async () => (await import('./notify.ts')).benchNotify(),
  reactions: async () => (await import('./reactions.ts')).benchReactions(),
  engagement: async () => (await import('./engagement.ts')).benchEngagement(),
  seed: async () => (await import('./seed-table.ts')).benchSeedTable(),
  'slow-sink': async () => (await import('./slow-sink.ts')).benchSlowSink(),
  celebrity: async () => (await import('./celebrity.ts')).benchCelebrity(),
};
/** Benchmarks whose report includes another's table: issue 3 wants the seed's table beside the reactions figures. */
const alsoRuns: Record<string, string[]> = { reactions: ['seed'] };

const args = process.argv.slice(2);
const json = args.includes('--json');
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !(n in benches));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
const selected = (names.length > 0 ? names : Object.keys(benches)).flatMap((n) => [
  n,
  ...(alsoRuns[n] ?? []),
]);
const measured = new Map<string, Figures[]>();
for (const name of new Set(selected)) {
  if (!json) console.log(`\n# ${name}`);
  const rows = await benches[name]!();
  measured.set(name, rows);
  report(json ? rows.map((r) => ({ benchmark: name, ...r })) : rows, json);
}
if (args.includes('--readme')) {
  const command = `npm run bench -- ${[...new Set(selected)].join(' ')}`;
  const missing = writeReadmeTables(measured, command);
  if (missing.length > 0) console.error(`bench: README.md has no section for ${missing.join(', ')}`);
}
process.exit(0);
