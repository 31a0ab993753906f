import { runWorker } from '../../shared/runtime/run-worker.ts';
import { engagementWorkerModule } from './engagement-worker.ts';

await runWorker(engagementWorkerModule);
