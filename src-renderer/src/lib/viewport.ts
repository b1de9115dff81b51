/**
 * The review viewer's zoom and pan: an image W × H pixels drawn in a box at `scale` screen pixels per
 * image pixel, its top-left corner at (x, y) in the box (CSS `translate(x, y) scale(scale)`, origin
 * 0 0). Pure functions, so every pane of the side-by-side view shares one View.
 */

export interface View {
  readonly scale: number;
  readonly x: number;
  readonly y: number;
}

export interface Size {
  readonly width: number;
  readonly height: number;
}

/** Zoom steps of the + / − keys, as screen pixels per image pixel (1 = 1:1). */
export const ZOOM_STEPS = [0.0625, 0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32] as const;
export const MAX_SCALE = 32;

/** The whole image in the box, centred. */
export function fitView(image: Size, box: Size): View {
  const scale = Math.min(box.width / image.width, box.height / image.height);
  return centred(image, box, scale);
}

/** The image at `scale` with its centre in the box's centre. */
export function centred(image: Size, box: Size, scale: number): View {
  return { scale, x: (box.width - image.width * scale) / 2, y: (box.height - image.height * scale) / 2 };
}

/** The smallest zoom: half the fitting one (or 1:1 for a tiny image). */
export function minScale(image: Size, box: Size): number {
  return Math.min(1, fitView(image, box).scale / 2);
}

/** Zoomed to `scale` (clamped) keeping the image point under box point (px, py) where it is. */
export function zoomTo(view: View, scale: number, px: number, py: number, min: number): View {
  const s = Math.min(MAX_SCALE, Math.max(min, scale));
  const k = s / view.scale;
  return { scale: s, x: px - (px - view.x) * k, y: py - (py - view.y) * k };
}

/** The next zoom step in (+1) or out (−1) from the current scale. */
export function stepScale(scale: number, direction: 1 | -1): number {
  const eps = 1e-9;
  if (direction > 0) return ZOOM_STEPS.find((s) => s > scale + eps) ?? MAX_SCALE;
  return [...ZOOM_STEPS].reverse().find((s) => s < scale - eps) ?? ZOOM_STEPS[0];
}

/** Moved by (dx, dy) screen pixels, keeping at least `margin` pixels of the image in the box. */
export function panBy(view: View, dx: number, dy: number, image: Size, box: Size, margin = 48): View {
  const w = image.width * view.scale;
  const h = image.height * view.scale;
  const clamp = (v: number, size: number, extent: number) => Math.min(size - Math.min(margin, extent), Math.max(Math.min(margin, extent) - extent, v));
  return { scale: view.scale, x: clamp(view.x + dx, box.width, w), y: clamp(view.y + dy, box.height, h) };
}

/** The image pixel under box point (px, py), or null outside the image. */
export function pixelAt(view: View, px: number, py: number, image: Size): { x: number; y: number } | null {
  const x = Math.floor((px - view.x) / view.scale);
  const y = Math.floor((py - view.y) / view.scale);
  return x >= 0 && y >= 0 && x < image.width && y < image.height ? { x, y } : null;
}
