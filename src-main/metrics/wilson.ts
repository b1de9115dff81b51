/** Confidence intervals of a proportion (rates at a threshold: false accepts, false rejects, reviews). */

/** The Wilson score interval of k successes in n trials at 95 % (null for n = 0); it stays inside [0, 1]. */
export function wilsonInterval(k: number, n: number): { low: number; high: number } | null {
  if (n === 0) return null;
  if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 0 && k <= n)) throw new RangeError(`expected whole numbers 0 <= k <= n, received k=${k}, n=${n}`);
  const z = 1.959963984540054;
  const phat = k / n;
  const denom = 1 + (z * z) / n;
  const centre = (phat + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((phat * (1 - phat)) / n + (z * z) / (4 * n * n))) / denom;
  // none and all have exact ends (rounding would leave 1e-17 off them)
  return { low: k === 0 ? 0 : Math.max(0, centre - half), high: k === n ? 1 : Math.min(1, centre + half) };
}
