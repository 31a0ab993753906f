/**
 * npm run bench -- <name...> [--json]
 * Runs benchmarks against the local stack (npm run stack -- up). Each prints a table, or JSON
 * lines with --json. With no name, runs them all.
 */
import { report, type Figures } from './report.ts';

const benches: Record<string, () => Promise<Figures[]>> = {
  content: async () => (await import('./content.ts')).benchContent(),
  lake: async () => (await import('./lake.ts')).benchLake(),
  feed: async () => (await import('./feed.ts')).benchFeed(),
  notify: async () => (await import('./notify.ts')).benchNotify(),
  reactions: async () => (await import('./reactions.ts')).benchReactions(),
  engagement: async () => (await import('./engagement.ts')).benchEngagement(),
  seed: async () => (await import('./seed-table.ts')).benchSeedTable(),
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
for (const name of new Set(selected)) {
  if (!json) console.log(`\n# ${name}`);
  report(await benches[name]!(), json);
}
process.exit(0);
