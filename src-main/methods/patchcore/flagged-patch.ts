/**
 * Why a PatchCore model flagged an image: the patch under its map's largest value over the picture,
 * as the station scored it (per-position normalised, stitched from tiles), beside the nearest
 * memory-bank patch; for a tiled model, the tiles the two patches lie in. Bank rows name their image
 * by the order the fit read them; a tiled model's inner bank numbers tiles, image-major.
 */
import type { FittedModel, ImageBatch } from '../method.ts';
import { detectorOf, PositionNormModel } from '../position-norm.ts';
import { mapModelOf } from '../score-scale.ts';
import { pictureArgmax, tileAround, tileCount, tileOf, tilePlace, TiledModel, type TilePlace } from '../tiling.ts';
import { PatchCoreModel, type NearestPatch } from './model.ts';

export interface FlaggedPatch extends Omit<NearestPatch, 'source'> {
  /** The patch neighbourhood (cells) the features aggregate. */
  readonly patchSize: number;
  /** A tiled model's: the tile of the flagged patch (its grid is the tile's); null for an untiled one. */
  readonly tile: TilePlace | null;
  /** The nearest bank patch's training image ordinal, grid cell and tile; null when the model did not record it. */
  readonly source: { readonly image: number; readonly cell: number; readonly tile: TilePlace | null } | null;
}

/** The flagged patch of a one-image batch read at `model.input`; null where the model is not PatchCore. */
export async function flaggedPatch(scored: FittedModel, batch: ImageBatch): Promise<FlaggedPatch | null> {
  if (batch.n !== 1) throw new RangeError('a flagged patch is found one image at a time');
  // a two-scale model's patches are its map model's (the score model's are at a smaller scale)
  const model = mapModelOf(scored);
  const detector = detectorOf(model);
  const ignore = batch.ignore?.subarray(0, batch.height * batch.width);
  const peak = (map: Float32Array) => pictureArgmax(map, batch.width, batch.content?.[0], ignore);
  if (detector instanceof PatchCoreModel) {
    // a normalised model flags the patch where its normalised map peaks, a plain one its worst patch
    const locate = model instanceof PositionNormModel ? (map: Float32Array) => peak(model.normalise(map)) : undefined;
    const found = await detector.nearestPatch(batch, locate);
    return { ...found, patchSize: detector.config.patchSize, tile: null, source: found.source && { ...found.source, tile: null } };
  }
  if (!(detector instanceof TiledModel) || !(detector.inner instanceof PatchCoreModel)) return null;
  const [prediction] = await model.predict(batch);
  const at = peak(prediction!.map);
  const [x, y] = [at % batch.width, Math.floor(at / batch.width)];
  const tile = tileAround(detector.grid, x, y);
  const found = await detector.inner.nearestPatch(tileOf(batch, detector.grid, tile.index), () => (y - tile.top) * tile.size + (x - tile.left));
  const k = tileCount(detector.grid);
  return {
    ...found, patchSize: detector.inner.config.patchSize, tile,
    source: found.source && { image: Math.floor(found.source.image / k), cell: found.source.cell, tile: tilePlace(detector.grid, found.source.image % k) },
  };
}
