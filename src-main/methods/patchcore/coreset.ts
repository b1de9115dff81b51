/**
 * Approximate greedy coreset (METHODS.md §5.3), exact to the official algorithm's definition:
 * start distances are the mean Euclidean distance to `starts` random points; then `count` times
 * the point farthest from the coreset joins it and every distance becomes min(old, new).
 *
 * The farthest-point loop is accelerated without changing its result, by the triangle inequality
 * (as in accelerated Gonzalez k-centre): each point remembers the coreset member it is closest to;
 * when a new member x arrives, a point p whose member is c can only get closer if
 * ‖x − c‖ < 2·d(p), so whole groups (‖x − c‖ ≥ 2·max d) and most points are skipped.
 */
export interface CoresetProgress {
  (done: number, total: number): void;
}

export interface CoresetOptions {
  readonly count: number;
  readonly starts?: number;
  readonly pick: (n: number, k: number) => number[];
  readonly onProgress?: CoresetProgress;
}

/** Growable list of point indices, compacted in place. */
class IndexList {
  items = new Int32Array(16);
  length = 0;
  push(v: number): void {
    if (this.length === this.items.length) {
      const next = new Int32Array(this.items.length * 2);
      next.set(this.items);
      this.items = next;
    }
    this.items[this.length++] = v;
  }
}

function distance(points: Float32Array, dim: number, a: number, b: number): number {
  let s = 0;
  const oa = a * dim;
  const ob = b * dim;
  for (let k = 0; k < dim; k++) {
    const d = points[oa + k]! - points[ob + k]!;
    s += d * d;
  }
  return Math.sqrt(s);
}

/**
 * Selects `count` indices of `points` ([n, dim] row-major, the projected features).
 * Returns them in selection order.
 */
export function approximateGreedyCoreset(points: Float32Array, dim: number, options: CoresetOptions): Int32Array {
  const n = points.length / dim;
  const count = Math.min(options.count, n);
  const starts = Math.min(options.starts ?? 10, n);
  const minDist = new Float64Array(n);
  for (const s of options.pick(n, starts)) for (let p = 0; p < n; p++) minDist[p]! += distance(points, dim, p, s) / starts;

  // Points not yet closer to a coreset member than their start distance have no member to prune with.
  let unassigned = new IndexList();
  for (let p = 0; p < n; p++) unassigned.push(p);
  const groups: IndexList[] = [];
  const groupMax = new Float64Array(count);
  const groupArg = new Int32Array(count);
  const selected = new Int32Array(count);

  const farthest = (list: IndexList): [number, number] => {
    let best = -1;
    let arg = -1;
    for (let i = 0; i < list.length; i++) {
      const p = list.items[i]!;
      const d = minDist[p]!;
      if (d > best || (d === best && p < arg)) {
        best = d;
        arg = p;
      }
    }
    return [best, arg];
  };

  let [uMax, uArg] = farthest(unassigned);
  for (let it = 0; it < count; it++) {
    // argmax over all points, lowest index on ties (as torch.argmax)
    let best = uMax;
    let x = uArg;
    for (let g = 0; g < it; g++) {
      const d = groupMax[g]!;
      if (d > best || (d === best && groupArg[g]! < x)) {
        best = d;
        x = groupArg[g]!;
      }
    }
    selected[it] = x;
    const group = new IndexList();

    for (let g = 0; g < it; g++) {
      if (groupMax[g]! <= 0) continue;
      const cx = distance(points, dim, x, selected[g]!);
      if (cx >= 2 * groupMax[g]!) continue;
      const members = groups[g]!;
      let kept = 0;
      for (let i = 0; i < members.length; i++) {
        const p = members.items[i]!;
        const dp = minDist[p]!;
        if (cx < 2 * dp) {
          const d = distance(points, dim, p, x);
          if (d < dp) {
            minDist[p] = d;
            group.push(p);
            continue;
          }
        }
        members.items[kept++] = p;
      }
      if (kept !== members.length) {
        members.length = kept;
        [groupMax[g], groupArg[g]] = farthest(members);
      }
    }

    const stillUnassigned = new IndexList();
    for (let i = 0; i < unassigned.length; i++) {
      const p = unassigned.items[i]!;
      const d = distance(points, dim, p, x);
      if (d < minDist[p]!) {
        minDist[p] = d;
        group.push(p);
      } else stillUnassigned.push(p);
    }
    unassigned = stillUnassigned;
    [uMax, uArg] = farthest(unassigned);

    groups.push(group);
    [groupMax[it], groupArg[it]] = farthest(group);
    if (options.onProgress && (it % 256 === 0 || it === count - 1)) options.onProgress(it + 1, count);
  }
  return selected;
}

/** Reference implementation without pruning: O(n·count·dim). Used by tests to prove equality. */
export function approximateGreedyCoresetBruteForce(points: Float32Array, dim: number, options: CoresetOptions): Int32Array {
  const n = points.length / dim;
  const count = Math.min(options.count, n);
  const starts = Math.min(options.starts ?? 10, n);
  const minDist = new Float64Array(n);
  for (const s of options.pick(n, starts)) for (let p = 0; p < n; p++) minDist[p]! += distance(points, dim, p, s) / starts;
  const selected = new Int32Array(count);
  for (let it = 0; it < count; it++) {
    let x = 0;
    for (let p = 1; p < n; p++) if (minDist[p]! > minDist[x]!) x = p;
    selected[it] = x;
    for (let p = 0; p < n; p++) minDist[p] = Math.min(minDist[p]!, distance(points, dim, p, x));
  }
  return selected;
}
