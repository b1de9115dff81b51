/** Image I/O and pixel-level operations (no ML code). */
export {
  type RasterImage,
  type ImageFormat,
  ImageReadError,
  readImage,
  decodeImageBuffer,
  sniffImageFormat,
  MAX_IMAGE_SIDE,
  MAX_IMAGE_PIXELS,
  MAX_IMAGE_FILE_BYTES,
  DECODE_TIMEOUT_S,
} from './image.ts';
export { decodeBmp, isBmp } from './bmp.ts';
export { type ResampleFilter, type ContentBox, resize, letterbox, letterboxContent, toRgb, toChw } from './resample.ts';
export { type BinaryMask, readMask, resizeMaskNearest, emptyMask } from './mask.ts';
export { gaussianFilter, gaussianKernel1d } from './gaussian.ts';
export { blurredUpsample } from './blurred-upsample.ts';
export { type GridAlign, type AxisTable, axisTable, upsampleBilinear, upsampleBilinearAlignCorners, resizeMap, cropMap } from './interpolate.ts';
export { jet, overlayHeatmap, writePng, type OverlayOptions } from './overlay.ts';
export { encodePicture, encodePng, toBytes, type EncodedPicture } from './picture.ts';
