/**
 * Seeded pseudo-random numbers (SplitMix32 stream). Every random choice in Argus goes through
 * this so that fits are reproducible from their recorded seed.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * Fills `out` with std·N(0, 1) draws (ziggurat, see ZIGGURAT below): ~99 % of values cost one 32-bit
   * number (7 bits pick the layer, 1 bit the sign, 24 bits the position), with the generator's state
   * kept in a local for speed; exact, and the same stream as any other use of this generator.
   */
  fillNormal(out: Float32Array, std: number): Float32Array {
    const { scaled, accept } = zigguratFor(std);
    const n = out.length;
    let state = this.state | 0;
    for (let i = 0; i < n; i++) {
      state = (state + 0x9e3779b9) | 0;
      let z = Math.imul(state ^ (state >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      z ^= z >>> 16;
      const position = z >>> 8;
      if (position < accept[z & 127]!) {
        out[i] = position * scaled[z & 255]!;
      } else {
        this.state = state >>> 0;
        out[i] = std * zigguratSlow(this, z >>> 0);
        state = this.state | 0;
      }
    }
    this.state = state >>> 0;
    return out;
  }

  /** k distinct integers from [0, n), in the order drawn (partial Fisher–Yates). */
  sample(n: number, k: number): number[] {
    if (k > n) throw new RangeError(`cannot sample ${k} distinct values from ${n}`);
    const pool = Int32Array.from({ length: n }, (_, i) => i);
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const t = pool[i]!;
      pool[i] = pool[j]!;
      pool[j] = t;
      out.push(pool[i]!);
    }
    return out;
  }
}

/**
 * Ziggurat for the standard normal (Marsaglia & Tsang 2000; 128 layers of area V, as laid out by
 * Doornik 2005): x[0] = V/f(R) is the base strip's width, x[1] = R where the tail starts, x[128] = 0,
 * with f(x) = exp(−x²/2). A draw picks layer i and u in [0, 1): x = u·x[i] is accepted at once when
 * x < x[i+1] (inside the layer's rectangle), else the base strip samples the tail and the other layers
 * test the wedge against f.
 */
const ZIGGURAT = (() => {
  const R = 3.442619855899;
  const V = 9.91256303526217e-3;
  const x = new Float64Array(129);
  const f = new Float64Array(129);
  x[0] = V / Math.exp(-0.5 * R * R);
  x[1] = R;
  for (let i = 2; i < 128; i++) x[i] = Math.sqrt(-2 * Math.log(V / x[i - 1]! + Math.exp(-0.5 * x[i - 1]! ** 2)));
  x[128] = 0;
  for (let i = 0; i <= 128; i++) f[i] = Math.exp(-0.5 * x[i]! ** 2);
  // fast path in 24-bit integers: position < accept[i] ⇔ position·2⁻²⁴·x[i] < x[i+1]
  const accept = Uint32Array.from({ length: 128 }, (_, i) => Math.floor((x[i + 1]! / x[i]!) * 2 ** 24));
  return { R, x, f, accept };
})();

let lastStd = Number.NaN;
let lastScaled = new Float64Array(256);

/** Per-layer scale 2⁻²⁴·x[i]·std, index bit 7 the sign (one table per std, the last one cached). */
function zigguratFor(std: number): { scaled: Float64Array; accept: Uint32Array } {
  if (std !== lastStd) {
    lastScaled = new Float64Array(256);
    for (let i = 0; i < 128; i++) {
      lastScaled[i] = 2 ** -24 * ZIGGURAT.x[i]! * std;
      lastScaled[i + 128] = -lastScaled[i]!;
    }
    lastStd = std;
  }
  return { scaled: lastScaled, accept: ZIGGURAT.accept };
}

/** The rare ziggurat draws: the 32-bit number `z` fell outside its layer's rectangle. */
function zigguratSlow(rng: Random, z: number): number {
  const { R, x, f } = ZIGGURAT;
  for (;;) {
    const i = z & 127;
    const v = (z >>> 8) * 2 ** -24 * x[i]!;
    const sign = z & 128 ? -1 : 1;
    if (v < x[i + 1]!) return sign * v;
    if (i === 0) {
      // the tail beyond R (Marsaglia 1964)
      let a: number;
      let b: number;
      do {
        a = -Math.log(1 - rng.next()) / R;
        b = -Math.log(1 - rng.next());
      } while (b + b < a * a);
      return sign * (R + a);
    }
    if (f[i]! + rng.next() * (f[i + 1]! - f[i]!) < Math.exp(-0.5 * v * v)) return sign * v;
    z = rng.nextUint32();
  }
}
