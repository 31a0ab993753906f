#!/usr/bin/env node
/** The koo command line: reads of the views and operations on the pipeline. */
import { Command } from 'commander';
import { errorMessage } from '../errors/koo-error.ts';
import { addQueryCommands } from './query-commands.ts';

const program = new Command('koo').description('koo-pipeline: query views and operate the workers');
addQueryCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`koo: ${errorMessage(err)}`);
  process.exitCode = 1;
}
