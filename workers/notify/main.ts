import { runWorker } from '../../shared/runtime/run-worker.ts';
import { notifyWorkerModule } from './notify-worker.ts';

await runWorker(notifyWorkerModule);
