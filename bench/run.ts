/**
 * npm run bench -- <name...> [--json]
 * Runs benchmarks against the local stack (npm run stack -- up). Each prints a table, or JSON
 * lines with --json. With no name, runs them all.
 */
import { report, type Figures } from './report.ts';

const benches: Record<string, () => Promise<Figures[]>> = {
  content: async () => (await import('./content.ts')).benchContent(),
  lake: async () => (await import('./lake.ts')).benchLake(),
  notify: async () => (await import('./notify.ts')).benchNotify(),
  reactions: async () => (await import('./reactions.ts')).benchReactions(),
  engagement: async () => (await import('./engagement.ts')).benchEngagement(),
};

const args = process.argv.slice(2);
const json = args.includes('--json');
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !(n in benches));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
for (const name of names.length > 0 ? names : Object.keys(benches)) {
  if (!json) console.log(`\n# ${name}`);
  report(await benches[name]!(), json);
}
process.exit(0);
