export { HEAVY_KINDS, JobQueue, type JobContext, type JobHandler, type JobQueueOptions, type ProgressUpdate } from './queue.ts';
