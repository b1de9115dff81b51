/** Worker entry: computes one slice of PaDiM's per-position Gaussians in shared memory. */
import { parentPort, workerData } from 'node:worker_threads';
import { gaussiansForPositions, type PositionRange } from './covariance.ts';

gaussiansForPositions(workerData as PositionRange);
parentPort?.postMessage('done');
