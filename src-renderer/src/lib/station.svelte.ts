/**
 * The station as the screens see it: the open project, the products and models of the chosen
 * product, the jobs and their live progress, and which screen is showing. One mutable object,
 * updated by station events and by the refresh functions below; screens read it and call `api`.
 */
import { api, type Connection } from './api.ts';
import type { Job, JobProgress, Model, Product, ProjectInfo, StationEvent } from './contract.ts';
import { forgetPictures } from './pictures.ts';
import { appendToSeries, newSeries, type Series } from './progress.ts';
import { toApiError } from './action.svelte.ts';
import type { ApiError } from './contract.ts';

export const SCREENS = [
  { id: 'projects', title: 'Projects', needs: 'nothing' },
  { id: 'dataset', title: 'Dataset', needs: 'project' },
  { id: 'label', title: 'Masks & labels', needs: 'product' },
  { id: 'train', title: 'Train', needs: 'product' },
  { id: 'evaluate', title: 'Evaluate', needs: 'model' },
  { id: 'thresholds', title: 'Thresholds', needs: 'model' },
  { id: 'inspect', title: 'Inspect & review', needs: 'model' },
  { id: 'reports', title: 'Reports', needs: 'model' },
] as const;
export type Screen = (typeof SCREENS)[number]['id'];

export const FINAL_STATUSES: ReadonlySet<Job['status']> = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);
export const ACTIVE_STATUSES: ReadonlySet<Job['status']> = new Set(['queued', 'running']);

export const station = $state({
  project: null as ProjectInfo | null,
  products: [] as Product[],
  productId: null as number | null,
  models: [] as Model[],
  modelId: null as number | null,
  /** The user chose an older model version: stay on it; otherwise the screens follow the newest. */
  modelPinned: false,
  /** Newest first, as jobs.list answers. */
  jobs: [] as Job[],
  /** Latest progress event per running job. */
  progress: {} as Record<number, JobProgress>,
  /** Training losses seen per job, in order and bounded (for the live loss chart). */
  losses: {} as Record<number, Series>,
  connection: 'connecting' as Connection,
  screen: 'projects' as Screen,
  /** The image the mask screen should open (set by the dataset grid). */
  labelImageId: null as number | null,
  /** The run the inspect screen should show with its model (a run of another version, chosen in the runs list). */
  inspectRun: null as { runId: number; modelId: number } | null,
  /** A failure of a background refresh (shown in the header). */
  error: null as ApiError | null,
  /** Bumped whenever images were added, relabelled or moved: the dataset grid and its counts reload. */
  datasetRevision: 0,
});

/** Tells the dataset views that images changed (import, upload, labels, splits) and refreshes the product counts. */
export function datasetChanged(): void {
  station.datasetRevision++;
  void refreshProducts();
}

export function currentProduct(): Product | null {
  return station.products.find((p) => p.id === station.productId) ?? null;
}

export function currentModel(): Model | null {
  return station.models.find((m) => m.id === station.modelId) ?? null;
}

/** Opens `screen` on model `modelId` (pinned unless it is the newest, as the model picker does). */
export function showModel(screen: Screen, modelId: number): void {
  station.modelId = modelId;
  station.modelPinned = modelId !== station.models[0]?.id;
  station.screen = screen;
}

async function background(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    station.error = null;
  } catch (err) {
    station.error = toApiError(err);
  }
}

export function refreshProducts(): Promise<void> {
  return background(async () => {
    if (!station.project) return;
    station.products = await api.call('products.list', {});
    if (!station.products.some((p) => p.id === station.productId)) {
      await selectProduct(station.products[0]?.id ?? null);
    }
  });
}

export function refreshModels(): Promise<void> {
  return background(async () => {
    const productId = station.productId;
    if (!station.project || productId === null) {
      station.models = [];
      station.modelId = null;
      return;
    }
    const models = await api.call('models.list', { productId });
    if (station.productId !== productId) return;
    station.models = [...models].sort((a, b) => b.version - a.version);
    if (!station.modelPinned || !station.models.some((m) => m.id === station.modelId)) {
      station.modelId = station.models[0]?.id ?? null;
      station.modelPinned = false;
    }
  });
}

export function refreshJobs(): Promise<void> {
  return background(async () => {
    const before = new Map(station.jobs.map((j) => [j.id, j.status]));
    const jobs = station.project ? await api.call('jobs.list', {}) : [];
    station.jobs = jobs;
    // Jobs that ended while no event could tell us (the stream was down).
    for (const job of jobs) {
      const was = before.get(job.id);
      if (was !== undefined && was !== job.status && FINAL_STATUSES.has(job.status)) jobEnded(job);
    }
  });
}

export async function selectProduct(id: number | null): Promise<void> {
  if (station.productId === id) return;
  station.productId = id;
  station.modelId = null;
  station.modelPinned = false;
  station.models = [];
  sessionStorage.setItem('argus.product', String(id ?? ''));
  await refreshModels();
}

/** Everything about the project again (after opening one, or after the event stream reconnects). */
export async function refreshAll(): Promise<void> {
  await background(async () => {
    station.project = await api.call('project.current', {});
  });
  if (!station.project) {
    station.products = [];
    station.jobs = [];
    await selectProduct(null);
    return;
  }
  const remembered = Number(sessionStorage.getItem('argus.product'));
  if (station.productId === null && remembered > 0) station.productId = remembered;
  await Promise.all([refreshProducts(), refreshJobs()]);
  await refreshModels();
}

export function setProject(project: ProjectInfo | null): void {
  const changed = station.project?.dir !== project?.dir;
  station.project = project;
  if (changed) {
    forgetPictures();
    station.productId = null;
    station.progress = {};
    station.losses = {};
    void refreshAll();
  }
}

/** A resumed job stays 'interrupted'; another job continues its work. */
export function isResumed(id: number): boolean {
  return station.jobs.some((j) => j.resumesJobId === id);
}

export async function resumeJob(id: number): Promise<void> {
  trackJob(await api.call('jobs.resume', { id }));
}

const finishedListeners = new Set<(job: Job) => void>();

/** Calls `listener` with every job that ends (succeeded, failed, cancelled); returns the unsubscribe. */
export function onJobFinished(listener: (job: Job) => void): () => void {
  finishedListeners.add(listener);
  return () => finishedListeners.delete(listener);
}

export function jobById(id: number | null): Job | null {
  return id === null ? null : (station.jobs.find((j) => j.id === id) ?? null);
}

/**
 * Records a job the screens just started. Its events may arrive before the call's answer (a job can
 * be running, or done, by then), so a job already known is left as the events made it.
 */
export function trackJob(job: Job): void {
  if (!jobById(job.id)) upsertJob(job);
}

function upsertJob(job: Job): void {
  const i = station.jobs.findIndex((j) => j.id === job.id);
  if (i >= 0) station.jobs[i] = job;
  else station.jobs = [job, ...station.jobs].sort((a, b) => b.id - a.id);
}

function applyEvent(event: StationEvent): void {
  if (event.type === 'project') {
    setProject(event.project);
  } else if (event.type === 'progress') {
    // a progress event that trails its job's end is no longer live (the loss still joins the chart)
    const job = jobById(event.jobId);
    if (!job || !FINAL_STATUSES.has(job.status)) station.progress[event.jobId] = event.progress;
    const loss = event.progress.loss;
    if (loss !== null && Number.isFinite(loss)) {
      station.losses[event.jobId] ??= newSeries();
      appendToSeries(station.losses[event.jobId]!, loss); // through the state proxy, so the chart follows
    }
  } else if (event.type === 'job') {
    const before = jobById(event.job.id);
    upsertJob(event.job);
    if (FINAL_STATUSES.has(event.job.status) && before?.status !== event.job.status) jobEnded(event.job);
  }
}

function jobEnded(job: Job): void {
  delete station.progress[job.id];
  if (job.kind === 'train' || job.kind === 'evaluate') void refreshModels();
  if (job.kind === 'import') datasetChanged();
  for (const l of finishedListeners) l(job);
}

/** Connects the event stream and loads the station's state; call once at start. */
export function startStation(): void {
  api.onEvent(applyEvent);
  let wasOpen = false;
  api.onConnection((state) => {
    station.connection = state;
    // Events may have been missed while the stream was down.
    if (state === 'open' && wasOpen) void refreshAll();
    if (state === 'open') wasOpen = true;
  });
  // Without the event stream, running jobs are followed by polling.
  setInterval(() => {
    if (station.connection !== 'open' && station.jobs.some((j) => ACTIVE_STATUSES.has(j.status))) void refreshJobs();
  }, 2000);
  void refreshAll().then(() => {
    if (station.project && station.screen === 'projects' && station.products.length > 0) station.screen = 'dataset';
  });
}
