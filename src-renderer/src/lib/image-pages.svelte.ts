/**
 * The dataset grid's images, fetched a page at a time as the virtualised grid needs them
 * (images.list with offset and limit over the store's indexes), so a product of 100,000 images costs
 * only the pages scrolled past. A reload after a relabel keeps showing the old pages until the new
 * ones arrive (no flashing placeholders); a new filter starts from nothing.
 *
 *   const pages = new ImagePages();
 *   pages.reset({ productId: 1, verdict: 'defective' });
 *   pages.ensure(0, 47);   // loads what the first rows show
 *   pages.item(3);         // the image at index 3, once its page is in
 */
import { api } from './api.ts';
import { toApiError } from './action.svelte.ts';
import type { ApiError, ApiInput, GridImage } from './contract.ts';

export type GridRequest = Omit<ApiInput<'images.list'>, 'offset' | 'limit'>;

/** The most images one selection may take (images.label's limit). */
export const MAX_SELECTION = 10_000;

export class ImagePages {
  /** Images matching the request (from the latest page answered). */
  total = $state(0);
  /** Whether the first answer for the current request has come. */
  loaded = $state(false);
  error = $state<ApiError | null>(null);
  readonly pageSize: number;
  #pages = $state.raw(new Map<number, GridImage[]>());
  #stale = new Map<number, GridImage[]>();
  #inflight = new Map<number, Promise<void>>();
  #generation = 0;
  #request: GridRequest | null = null;

  constructor(pageSize = 120) {
    this.pageSize = pageSize;
  }

  /** Starts over with `request`; `keep` shows the pages in hand until their fresh copies arrive (same filter, changed data). */
  reset(request: GridRequest, keep = false): void {
    this.#generation++;
    this.#request = request;
    this.#stale = keep ? new Map([...this.#stale, ...this.#pages]) : new Map();
    this.#inflight = new Map();
    this.#pages = new Map();
    if (!keep) {
      this.loaded = false;
      this.total = 0;
    }
    void this.#load(0);
  }

  /** The image at `index` in the listing, if its page is in. */
  item(index: number): GridImage | undefined {
    const page = Math.floor(index / this.pageSize);
    return (this.#pages.get(page) ?? this.#stale.get(page))?.[index % this.pageSize];
  }

  /** Loads the pages holding indexes `from`..`to` that are not in yet. */
  ensure(from: number, to: number): void {
    for (let page = Math.max(0, Math.floor(from / this.pageSize)); page <= Math.floor(to / this.pageSize); page++) void this.#load(page);
  }

  /** The ids at indexes `from`..`to` (at most MAX_SELECTION), loading the pages between. */
  async ids(from: number, to: number): Promise<number[]> {
    const last = Math.min(to, from + MAX_SELECTION - 1, this.total - 1);
    const pages: Promise<void>[] = [];
    for (let page = Math.floor(from / this.pageSize); page <= Math.floor(last / this.pageSize); page++) pages.push(this.#load(page));
    await Promise.all(pages);
    const ids: number[] = [];
    for (let i = from; i <= last; i++) {
      const image = this.item(i);
      if (image) ids.push(image.id);
    }
    return ids;
  }

  #load(page: number): Promise<void> {
    const request = this.#request;
    if (request === null || this.#pages.has(page)) return Promise.resolve();
    const running = this.#inflight.get(page);
    if (running) return running;
    const generation = this.#generation;
    const done = api.call('images.list', { ...request, offset: page * this.pageSize, limit: this.pageSize }).then(
      (answer) => {
        if (generation !== this.#generation) return;
        this.#pages = new Map(this.#pages).set(page, answer.items);
        this.#stale.delete(page);
        this.total = answer.total;
        this.loaded = true;
        this.error = null;
      },
      (err: unknown) => {
        if (generation !== this.#generation) return;
        this.#inflight.delete(page);
        this.error = toApiError(err);
        this.loaded = true;
      },
    );
    this.#inflight.set(page, done);
    return done;
  }
}
