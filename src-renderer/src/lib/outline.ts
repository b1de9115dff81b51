/**
 * Outlines of binary masks as SVG paths along the pixels' borders, so that an outline stays exact and
 * sharp at every zoom: each closed loop (an outer border or a hole's) becomes `M x y` then runs of
 * horizontal and vertical steps, closed with `Z`. Filled with fill-rule evenodd, the loops give the
 * mask's area back (holes stay empty).
 */

// Directions in image coordinates (y down): right, down, left, up.
const DX = [1, 0, -1, 0] as const;
const DY = [0, 1, 0, -1] as const;

/**
 * The mask's border loops (mask: width × height, row-major, non-zero = on) as one SVG path, in image
 * pixel units; '' for an empty mask. Loops run clockwise around the mask's pixels; where two pixels
 * touch only at a corner the loops keep them apart.
 */
export function outlinePath(mask: ArrayLike<number>, width: number, height: number): string {
  if (mask.length !== width * height) throw new RangeError(`mask has ${mask.length} pixels for ${width}x${height}`);
  const on = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] !== 0;
  const stride = width + 1;
  // up to two outgoing border edges per corner vertex: the direction + 1, or 0
  const out = new Uint8Array((height + 1) * stride * 2);
  const add = (x: number, y: number, dir: number) => {
    const v = (y * stride + x) * 2;
    out[out[v] === 0 ? v : v + 1] = dir + 1;
  };
  let edges = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!on(x, y)) continue;
      if (!on(x, y - 1)) { add(x, y, 0); edges++; }
      if (!on(x + 1, y)) { add(x + 1, y, 1); edges++; }
      if (!on(x, y + 1)) { add(x + 1, y + 1, 2); edges++; }
      if (!on(x - 1, y)) { add(x, y + 1, 3); edges++; }
    }
  }
  const parts: string[] = [];
  // Take an edge out of vertex (x, y): the one that turns right of `from` first (keeps corner-touching
  // pixels in separate loops), else straight on, else left.
  const take = (x: number, y: number, from: number): number => {
    const v = (y * stride + x) * 2;
    const a = out[v]! - 1;
    const b = out[v + 1]! - 1;
    let pick = a;
    if (b >= 0 && from >= 0) {
      const rank = (d: number) => (d - from + 4) % 4; // 1 right, 0 straight, 3 left
      const order = [1, 0, 3, 2];
      pick = order.indexOf(rank(a)) <= order.indexOf(rank(b)) ? a : b;
    }
    if (pick === a) { out[v] = out[v + 1]!; out[v + 1] = 0; } else out[v + 1] = 0;
    return pick;
  };
  for (let y = 0; y <= height && edges > 0; y++) {
    for (let x = 0; x <= width && edges > 0; x++) {
      while (out[(y * stride + x) * 2] !== 0) {
        let cx = x;
        let cy = y;
        let dir = take(cx, cy, -1);
        let path = `M${x} ${y}`;
        let run = 0;
        let runDir = dir;
        for (;;) {
          edges--;
          cx += DX[dir]!;
          cy += DY[dir]!;
          if (dir === runDir) run++;
          else {
            path += step(runDir, run);
            runDir = dir;
            run = 1;
          }
          if (cx === x && cy === y) break;
          dir = take(cx, cy, dir);
        }
        parts.push(`${path}${runDir === 3 ? '' : step(runDir, run)}Z`);
      }
    }
  }
  return parts.join('');
}

function step(dir: number, run: number): string {
  return dir === 0 ? `h${run}` : dir === 1 ? `v${run}` : dir === 2 ? `h-${run}` : `v-${run}`;
}
