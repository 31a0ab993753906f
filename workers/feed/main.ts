import { runWorker } from '../../shared/runtime/run-worker.ts';
import { feedWorkerModule } from './feed-worker.ts';

await runWorker(feedWorkerModule);
