import { runWorker } from '../../shared/runtime/run-worker.ts';
import { createContentWorker, loadContentConfig } from './content-worker.ts';

await runWorker({ name: 'content', loadConfig: loadContentConfig, create: createContentWorker });
