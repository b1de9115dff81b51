export interface Components {
  /** Per pixel: 0 for background, 1..count for the component it belongs to. */
  readonly labels: Int32Array;
  readonly count: number;
}

/** Labels the 8-connected components of the non-zero pixels of a row-major mask (flood fill). */
export function connectedComponents(mask: ArrayLike<number>, width: number, height: number): Components {
  if (mask.length !== width * height) {
    throw new RangeError(`mask has ${mask.length} pixels, expected ${width}x${height}`);
  }
  const labels = new Int32Array(mask.length);
  const pending = new Int32Array(mask.length); // each pixel is pushed at most once
  let count = 0;
  for (let seed = 0; seed < mask.length; seed++) {
    if (mask[seed] === 0 || labels[seed] !== 0) continue;
    count++;
    labels[seed] = count;
    let top = 0;
    pending[top++] = seed;
    while (top > 0) {
      const pixel = pending[--top]!;
      const x = pixel % width;
      const y = (pixel - x) / width;
      for (let ny = Math.max(y - 1, 0); ny <= Math.min(y + 1, height - 1); ny++) {
        for (let nx = Math.max(x - 1, 0); nx <= Math.min(x + 1, width - 1); nx++) {
          const neighbour = ny * width + nx;
          if (mask[neighbour] !== 0 && labels[neighbour] === 0) {
            labels[neighbour] = count;
            pending[top++] = neighbour;
          }
        }
      }
    }
  }
  return { labels, count };
}
