#!/usr/bin/env node
/** The koo command line: reads of the views and operations on the pipeline. */
import { Command } from 'commander';
import { errorMessage } from '../../shared/errors/koo-error.ts';
import { addNotifyCommands } from './notify-commands.ts';
import { addOpsCommands } from './ops-commands.ts';
import { addEngagementCommands } from './engagement-commands.ts';
import { addFeedCommands } from './feed-commands.ts';
import { addLakeCommands } from './lake-commands.ts';
import { addQueryCommands } from './query-commands.ts';
import { addReactionCommands } from './reaction-commands.ts';

const program = new Command('koo').description('koo-pipeline: query views and operate the workers');
const query = addQueryCommands(program);
addReactionCommands(query);
addFeedCommands(query);
addNotifyCommands(program);
addEngagementCommands(program);
addLakeCommands(program);
addOpsCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`koo: ${errorMessage(err)}`);
  process.exitCode = 1;
}
