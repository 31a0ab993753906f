import { runWorker } from '../../shared/runtime/run-worker.ts';
import { lakeWorkerModule } from './lake-worker.ts';

await runWorker(lakeWorkerModule);
