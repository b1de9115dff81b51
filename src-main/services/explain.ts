/**
 * "Why was this flagged" (issue 12): a PatchCore result's most anomalous patch beside the nearest
 * patch of the model's memory bank, cut from the training image it was taken from; for the other
 * methods, the image beside the most similar normal training image (features/image-descriptor.ts).
 * The model reads the image again in a worker thread (as inspection did, ignore regions included).
 */
import { ApiError, type Explanation, type Picture, type PixelBox } from '../api/contract.ts';
import { runWorkerTask } from '../jobs/worker-host.ts';
import type { Explained } from '../jobs/worker-protocol.ts';
import type { TilePlace } from '../methods/tiling.ts';
import { images, models, results, type Project } from '../store/index.ts';
import { decodeImageBuffer, type RasterImage } from '../vision/image.ts';
import { encodePicture, letterboxContent, type ContentBox } from '../vision/index.ts';
import { ignoreMasksOf } from './ignore-regions.ts';
import { trainingRecordOf } from './training-record.ts';

const RETRAIN = 'train a new model version to see it';

/** The part of the model input a feature grid spans, in px: all of it, or a tile of a tiled model. */
export interface GridArea {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * The box in the image's own pixels of grid cell (row, column) and the patch neighbourhood around it
 * (the cells its feature aggregates), given the part of the model input the grid spans and where the
 * picture lies in the model input.
 */
export function cellBox(
  cell: { row: number; column: number }, grid: { height: number; width: number }, patchSize: number,
  area: GridArea, content: ContentBox, size: { width: number; height: number },
): PixelBox {
  const half = Math.floor(patchSize / 2);
  const span = (index: number, cells: number, origin: number, areaSide: number, contentSide: number, imageSide: number) => {
    const scale = imageSide / contentSide;
    const from = Math.min(contentSide - 1, Math.max(0, origin + ((index - half) * areaSide) / cells));
    const to = Math.max(from + 1, Math.min(contentSide, origin + ((index + 1 + half) * areaSide) / cells));
    const start = Math.min(imageSide - 1, Math.floor(from * scale));
    return { start, length: Math.max(1, Math.min(imageSide, Math.ceil(to * scale)) - start) };
  };
  const x = span(cell.column, grid.width, area.left, area.width, content.width, size.width);
  const y = span(cell.row, grid.height, area.top, area.height, content.height, size.height);
  return { x: x.start, y: y.start, width: x.length, height: y.length };
}

function crop(image: RasterImage, box: PixelBox): RasterImage {
  const c = image.channels;
  const data = new Float32Array(box.width * box.height * c);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.y + y) * image.width + box.x) * c;
    data.set(image.data.subarray(from, from + box.width * c), y * box.width * c);
  }
  return { width: box.width, height: box.height, channels: c, data };
}

async function picture(p: Project, image: images.Image, box: PixelBox, maxSide: number): Promise<Picture> {
  const raster = await decodeImageBuffer(images.readBytes(p, image), image.originalPath);
  if (raster.width !== image.width || raster.height !== image.height) {
    throw new ApiError('PROJECT_CORRUPT', `image ${image.id} decodes to ${raster.width}x${raster.height}, recorded as ${image.width}x${image.height}`);
  }
  const whole = box.x === 0 && box.y === 0 && box.width === raster.width && box.height === raster.height;
  const encoded = await encodePicture(whole ? raster : crop(raster, box), maxSide);
  return { mediaType: 'image/png', base64: encoded.png.toString('base64'), width: encoded.width, height: encoded.height };
}

async function explainInWorker(p: Project, model: models.Model, image: images.Image, descriptors: import('./training-record.ts').ImageDescriptors | null): Promise<Explained> {
  let explained: Explained | null = null;
  await runWorkerTask({
    task: 'explain', model: new Uint8Array(models.readModelBlob(p, model, 'model')),
    image: { path: images.filePath(p, image), ignore: ignoreMasksOf(p, model.productId)(image) }, descriptors,
  }, (m) => {
    if (m.type === 'explained') explained = m.explained;
  }).done;
  if (!explained) throw new ApiError('INTERNAL', `the model gave no explanation for image ${image.id}`);
  return explained;
}

export async function explainResult(p: Project, resultId: number, maxSide: number): Promise<Explanation> {
  const result = results.get(p, resultId);
  const model = models.get(p, result.modelId);
  const image = images.get(p, result.imageId);
  const record = trainingRecordOf(p, model);
  const whole = (i: images.Image): PixelBox => ({ x: 0, y: 0, width: i.width, height: i.height });
  const base = { resultId: result.id, modelId: model.id };
  if (model.method !== 'patchcore') {
    const flagged = { imageId: image.id, box: whole(image), cell: null, tile: null, patchScore: null, picture: await picture(p, image, whole(image), maxSide) };
    if (!record?.descriptors) {
      return { ...base, kind: 'image', flagged, nearest: null, unavailable: `model version ${model.version} was stored before Argus recorded its training images' descriptors: ${RETRAIN} the most similar normal image` };
    }
    const found = await explainInWorker(p, model, image, record.descriptors);
    const twinId = record.imageIds[found.image!.ordinal]!;
    const twin = images.find(p, twinId);
    if (!twin) return { ...base, kind: 'image', flagged, nearest: null, unavailable: `the most similar training image (${twinId}) is no longer in the project` };
    return {
      ...base, kind: 'image', flagged, unavailable: null,
      nearest: { imageId: twin.id, box: whole(twin), cell: null, tile: null, distance: found.image!.distance, picture: await picture(p, twin, whole(twin), maxSide) },
    };
  }
  const found = await explainInWorker(p, model, image, null);
  const patch = found.patch!;
  const grid = { height: patch.gridHeight, width: patch.gridWidth };
  // a tiled model's grid spans one tile of the canvas
  const areaOf = (tile: TilePlace | null): GridArea => (tile ? { left: tile.left, top: tile.top, width: tile.size, height: tile.size } : { left: 0, top: 0, width: found.input.width, height: found.input.height });
  const at = (cell: number) => ({ row: Math.floor(cell / grid.width), column: cell % grid.width });
  const box = cellBox(at(patch.cell), grid, patch.patchSize, areaOf(patch.tile), found.content, found.size);
  const flagged = {
    imageId: image.id, box, cell: { ...at(patch.cell), gridHeight: grid.height, gridWidth: grid.width }, tile: patch.tile,
    patchScore: patch.score, picture: await picture(p, image, box, maxSide),
  };
  const twinId = patch.source ? record?.imageIds[patch.source.image] : undefined;
  if (!patch.source || twinId === undefined) {
    return { ...base, kind: 'patch', flagged, nearest: null, unavailable: `model version ${model.version} was stored before Argus recorded where its memory-bank patches come from: ${RETRAIN} the nearest normal patch` };
  }
  const twin = images.find(p, twinId);
  if (!twin) return { ...base, kind: 'patch', flagged, nearest: null, unavailable: `the training image (${twinId}) of the nearest normal patch is no longer in the project` };
  // letterbox and tile keep the aspect ratio: the picture lies top-left in the model input
  const content = found.input.resize === 'stretch' ? { width: found.input.width, height: found.input.height } : letterboxContent(twin.width, twin.height, found.input.width, found.input.height);
  const twinBox = cellBox(at(patch.source.cell), grid, patch.patchSize, areaOf(patch.source.tile), content, twin);
  return {
    ...base, kind: 'patch', flagged, unavailable: null,
    nearest: { imageId: twin.id, box: twinBox, cell: at(patch.source.cell), tile: patch.source.tile, distance: patch.distance, picture: await picture(p, twin, twinBox, maxSide) },
  };
}
