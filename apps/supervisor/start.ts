/**
 * npm start [-- --replicas content=3 --replicas feed=2 --only content,feed --http-port-base 9400]
 * Runs every worker of the catalogue (or those named) as replicas on this machine, restarts the
 * ones that die, and stops them all gracefully on SIGINT/SIGTERM. Each output line is prefixed
 * with the replica that wrote it.
 */
import { Command, InvalidArgumentError } from 'commander';
import { topics } from '../../schemas/topics.ts';
import { catalog, catalogEntry } from '../../workers/catalog.ts';
import { errorMessage } from '../../shared/errors/koo-error.ts';
import { Supervisor } from './supervisor.ts';

/** `name=N` pairs, accumulated over repeated flags. */
function replicaCount(value: string, counts: Map<string, number>): Map<string, number> {
  const match = /^([a-z-]+)=(\d+)$/.exec(value);
  if (!match) throw new InvalidArgumentError(`expected worker=N, got ${value}`);
  const [, worker, n] = match;
  try {
    catalogEntry(worker!);
  } catch (err) {
    throw new InvalidArgumentError(errorMessage(err));
  }
  const count = Number(n);
  const cap = partitionCap(worker!);
  if (count > cap) {
    throw new InvalidArgumentError(
      `${worker} can use at most ${cap} replicas (the partitions of its topics); more would sit idle`,
    );
  }
  return new Map(counts).set(worker!, count);
}

/** A consumer's replicas beyond the partitions of its smallest topic would get none (schemas/topics.ts). */
function partitionCap(worker: string): number {
  const group = catalogEntry(worker).group;
  if (!group) return Number.POSITIVE_INFINITY;
  return Math.min(...group.topics.map((name) => topics.find((t) => t.name === name)?.partitions ?? Infinity));
}

const options = new Command('start')
  .description('run the workers as replicas on this machine')
  .option(
    '--replicas <worker=N>',
    'replicas of a worker (repeatable; default 1 each)',
    replicaCount,
    new Map(),
  )
  .option('--only <workers>', 'comma-separated workers to run (default: all)', (v) =>
    v.split(',').filter(Boolean),
  )
  .option(
    '--http-port-base <port>',
    'worker i, replica s serves /metrics on base + 100 i + s (0: random)',
    Number,
    9400,
  )
  .parse()
  .opts<{ replicas: Map<string, number>; only?: string[]; httpPortBase: number }>();

const chosen = options.only ? options.only.map(catalogEntry) : catalog;
const color = (slot: number, text: string) =>
  process.stdout.isTTY ? `\x1b[3${(slot % 6) + 1}m${text}\x1b[0m` : text;
const label = (worker: string, slot: number) =>
  color(
    catalog.findIndex((e) => e.name === worker),
    `${worker}-${slot}`,
  );

const supervisor = new Supervisor({
  env: process.env,
  httpPortBase: options.httpPortBase,
  onLine: (r, line) => process.stdout.write(`${label(r.worker, r.slot)} | ${line}\n`),
  onEvent: (r, event) => process.stderr.write(`${label(r.worker, r.slot)} * ${event}\n`),
});

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`start: ${signal}: stopping every replica\n`);
  void supervisor.close().then(() => process.exit(0));
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

for (const entry of chosen) await supervisor.scale(entry.name, options.replicas.get(entry.name) ?? 1);
supervisor.configFailure.catch(async (err: Error) => {
  process.stderr.write(`start: ${err.message}; stopping\n`);
  await supervisor.close();
  process.exit(78);
});
