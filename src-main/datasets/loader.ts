/**
 * Streams dataset images as model-ready batches: decode, RGB, resize with the method's filter,
 * planar CHW. The next batch is decoded while the caller works on the current one. An image that
 * cannot be read is reported through `onSkip` and left out; the stream goes on.
 */
import { readImage, resize, letterbox, toChw, toRgb, ImageReadError, type ContentBox } from '../vision/index.ts';
import type { RasterImage } from '../vision/image.ts';
import type { ImageBatch, InputSpec } from '../methods/method.ts';
import { decodeMask, resizeMaskNearest } from '../vision/mask.ts';
import type { DatasetImage, DatasetIssue } from './mvtec.ts';

export interface LoadedBatch {
  readonly batch: ImageBatch;
  readonly entries: readonly DatasetImage[];
  /** Original width and height of each image. */
  readonly sizes: ReadonlyArray<{ readonly width: number; readonly height: number }>;
  /** The region of the model input that holds the picture (all of it unless letterboxed). */
  readonly content: readonly ContentBox[];
}

export interface LoaderOptions {
  readonly batchSize: number;
  readonly onSkip?: (issue: DatasetIssue) => void;
}

/**
 * An image as the model reads it: stretched to the input size, or letterboxed (letterbox and tile: the
 * picture top-left in the canvas), with where the picture lies.
 */
export function fitToInput(image: RasterImage, input: InputSpec): { image: RasterImage; content: ContentBox } {
  return input.resize !== 'stretch'
    ? letterbox(image, input.width, input.height, input.filter)
    : { image: resize(image, input.width, input.height, input.filter), content: { width: input.width, height: input.height } };
}

/** One image at one canvas: planar pixels, where the picture lies, its ignore mask. */
interface Canvas {
  readonly chw: Float32Array;
  readonly content: ContentBox;
  readonly ignore: Uint8Array | undefined;
}

async function atCanvas(image: RasterImage, entry: DatasetImage, input: InputSpec): Promise<Canvas> {
  const fitted = fitToInput(image, input);
  const ignore = entry.ignore?.length ? await ignoreAtInput(entry.ignore, fitted.content, input, entry.path) : undefined;
  return { chw: toChw(toRgb(fitted.image)), content: fitted.content, ignore };
}

/** The input's second canvas as an input of its own (InputSpec.second), or undefined. */
function secondInput(input: InputSpec): InputSpec | undefined {
  if (!input.second) return undefined;
  const { second: _, ...first } = input;
  return { ...first, height: input.second.height, width: input.second.width };
}

async function loadOne(entry: DatasetImage, input: InputSpec, onSkip?: (issue: DatasetIssue) => void) {
  try {
    const image = await readImage(entry.path);
    const canvas = await atCanvas(image, entry, input);
    const second = secondInput(input);
    return { entry, ...canvas, width: image.width, height: image.height, second: second && (await atCanvas(image, entry, second)) };
  } catch (err) {
    if (!(err instanceof ImageReadError)) throw err;
    onSkip?.({ path: entry.path, problem: `unreadable image, skipped: ${err.reason}` });
    return undefined;
  }
}

/** The union of the ignore masks, resized (nearest) onto the picture's part of the model input. */
async function ignoreAtInput(masks: readonly Uint8Array[], content: ContentBox, input: InputSpec, path: string): Promise<Uint8Array> {
  const out = new Uint8Array(input.width * input.height);
  for (const png of masks) {
    const m = resizeMaskNearest(await decodeMask(png, `ignore region of ${path}`), content.width, content.height).data;
    for (let y = 0; y < content.height; y++) for (let x = 0; x < content.width; x++) out[y * input.width + x]! |= m[y * content.width + x]!;
  }
  return out;
}

/** Canvases of one size as a batch. */
function batchOf(canvases: readonly Canvas[], height: number, width: number): ImageBatch {
  const plane = 3 * height * width;
  const data = new Float32Array(canvases.length * plane);
  canvases.forEach((c, i) => data.set(c.chw, i * plane));
  let ignore: Uint8Array | undefined;
  if (canvases.some((c) => c.ignore)) {
    ignore = new Uint8Array(canvases.length * height * width);
    canvases.forEach((c, i) => c.ignore && ignore!.set(c.ignore, i * height * width));
  }
  return { data, n: canvases.length, height, width, content: canvases.map((c) => c.content), ...(ignore ? { ignore } : {}) };
}

async function loadBatch(entries: readonly DatasetImage[], input: InputSpec, onSkip?: (issue: DatasetIssue) => void): Promise<LoadedBatch | undefined> {
  const loaded = (await Promise.all(entries.map((e) => loadOne(e, input, onSkip)))).filter((x) => x !== undefined);
  if (loaded.length === 0) return undefined;
  const batch = batchOf(loaded, input.height, input.width);
  return {
    batch: input.second ? { ...batch, second: batchOf(loaded.map((l) => l.second!), input.second.height, input.second.width) } : batch,
    entries: loaded.map((l) => l.entry),
    sizes: loaded.map((l) => ({ width: l.width, height: l.height })),
    content: loaded.map((l) => l.content),
  };
}

export async function* loadBatches(entries: readonly DatasetImage[], input: InputSpec, options: LoaderOptions): AsyncGenerator<LoadedBatch> {
  const size = Math.max(1, options.batchSize);
  const chunks: DatasetImage[][] = [];
  for (let i = 0; i < entries.length; i += size) chunks.push(entries.slice(i, i + size));
  let next = chunks.length > 0 ? loadBatch(chunks[0]!, input, options.onSkip) : undefined;
  for (let i = 0; i < chunks.length; i++) {
    const current = await next!;
    next = i + 1 < chunks.length ? loadBatch(chunks[i + 1]!, input, options.onSkip) : undefined;
    // a failure of the prefetched batch surfaces when it is awaited, not as an unhandled rejection
    next?.catch(() => undefined);
    if (current) yield current;
  }
}

/** Only the image batches, for a method's fit. */
export async function* imageBatches(loaded: AsyncIterable<LoadedBatch>): AsyncGenerator<ImageBatch> {
  for await (const l of loaded) yield l.batch;
}
