import { runWorker } from '../../shared/runtime/run-worker.ts';
import { reactionsWorkerModule } from './reactions-worker.ts';

await runWorker(reactionsWorkerModule);
