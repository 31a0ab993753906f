import { runSender } from './run-sender.ts';

await runSender();
