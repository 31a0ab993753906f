import { runWorker } from '../../shared/runtime/run-worker.ts';
import { contentWorkerModule } from './content-worker.ts';

await runWorker(contentWorkerModule);
