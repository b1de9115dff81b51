/**
 * Image pictures for display (images.picture) as data: URLs, fetched a few at a time and cached by
 * (image, size), so scrolling a grid back and forth does not ask the station again. The cache is
 * cleared when the project changes (image ids are per project).
 */
import { api } from './api.ts';
import type { ApiInput, Picture } from './contract.ts';

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
    waiting.shift()?.();
  }
}

export function dataUrl(picture: Picture): string {
  return `data:${picture.mediaType};base64,${picture.base64}`;
}

/** The image as a PNG data URL at most `maxSide` pixels on its longer side. */
export function picture(imageId: number, maxSide: number): Promise<string> {
  const key = `${imageId}:${maxSide}`;
  let found = cache.get(key);
  if (found) {
    cache.delete(key);
    cache.set(key, found);
    return found;
  }
  found = limited(() => api.call('images.picture', { id: imageId, maxSide })).then(dataUrl);
  found.catch(() => cache.delete(key));
  cache.set(key, found);
  if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value as string);
  return found;
}

export type OverlayLayers = NonNullable<ApiInput<'results.overlay'>['layers']>;

/**
 * The result's overlay (anomaly map; outlines of the detector's mask, the refined mask and the ground
 * truth, as `layers` choose); not cached, as a refinement changes it.
 */
export function overlay(resultId: number, maxSide: number, layers?: OverlayLayers): Promise<string> {
  return limited(() => api.call('results.overlay', { id: resultId, maxSide, ...(layers ? { layers } : {}) })).then(dataUrl);
}

/** A refined result's repaired (defect-free) image. */
export function repaired(resultId: number, maxSide: number): Promise<string> {
  return limited(() => api.call('results.repaired', { id: resultId, maxSide })).then(dataUrl);
}

export function forgetPictures(): void {
  cache.clear();
}
