/**
 * Image pictures for display (images.picture) as data: URLs, fetched a few at a time and cached by
 * (image, size), so scrolling a grid back and forth does not ask the station again. The cache is
 * cleared when the project changes (image ids are per project).
 */
import { api } from './api.ts';
import type { Picture } from './contract.ts';

const MAX_CACHED = 600;
const MAX_PARALLEL = 6;

const cache = new Map<string, Promise<string>>();
let running = 0;
const waiting: Array<() => void> = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    // newest first: when a grid scrolls fast, the tiles now in view are the ones waited for
    waiting.pop()?.();
  }
}

export function dataUrl(picture: Picture): string {
  return `data:${picture.mediaType};base64,${picture.base64}`;
}

/** The newest `max` entries of `store`, the one asked for moved to the newest place. */
function remembered(store: Map<string, Promise<string>>, max: number, key: string, make: () => Promise<string>): Promise<string> {
  let found = store.get(key);
  if (found) {
    store.delete(key);
    store.set(key, found);
    return found;
  }
  found = make();
  found.catch(() => store.delete(key));
  store.set(key, found);
  if (store.size > max) store.delete(store.keys().next().value as string);
  return found;
}

/** The image as a PNG data URL at most `maxSide` pixels on its longer side. */
export function picture(imageId: number, maxSide: number): Promise<string> {
  return remembered(cache, MAX_CACHED, `${imageId}:${maxSide}`, () => limited(() => api.call('images.picture', { id: imageId, maxSide })).then(dataUrl));
}

const fullCache = new Map<string, Promise<string>>();
const MAX_FULL = 6;

/** The image at its own resolution (at most 4096 pixels a side) for review; the last few are kept. */
export function fullPicture(image: { id: number; width: number; height: number }): Promise<string> {
  const side = Math.min(4096, Math.max(16, image.width, image.height));
  return remembered(fullCache, MAX_FULL, `${image.id}:${side}`, () => limited(() => api.call('images.picture', { id: image.id, maxSide: side })).then(dataUrl));
}

/** Asks for an image's full-size picture ahead of time (the next result in review); failures are left for when it is shown. */
export function prefetchFullPicture(imageId: number): void {
  api.call('images.get', { id: imageId }).then(fullPicture).catch(() => undefined);
}

/** A refined result's repaired (defect-free) image. */
export function repaired(resultId: number, maxSide: number): Promise<string> {
  return limited(() => api.call('results.repaired', { id: resultId, maxSide })).then(dataUrl);
}

export function forgetPictures(): void {
  cache.clear();
  fullCache.clear();
}
