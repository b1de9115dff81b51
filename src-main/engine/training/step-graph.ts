/**
 * Training-step graphs: a model's forward pass (ending in a scalar loss) + its reverse-mode gradients
 * (engine/autodiff) + one optimiser update per parameter group (engine/optim), as ONE ONNX graph whose
 * inputs are the parameters, optimiser state, buffers, hyper-parameters, step count and the batch, and
 * whose outputs are the loss, metrics and the new parameters / state / buffers.
 *
 * With `stepsPerCall > 1` the same step is the body of an ONNX Loop that walks over mini-batches stacked
 * along a new leading axis, carrying parameters and state from one iteration to the next, so K steps
 * cost one session call and one round trip of the parameters.
 */
import { backward } from '../autodiff/index.ts';
import { type Dim, type DType, GraphBuilder, int } from '../onnx/graph.ts';
import { applyOptimizer, type Optimizer } from '../optim/index.ts';

export interface ParamDecl {
  readonly name: string;
  readonly dims: readonly number[];
  readonly init: Float32Array;
  /** Name of the parameter group (optimiser) that updates it. */
  readonly group: string;
}

/** Non-trained state carried between steps (e.g. BatchNorm running statistics). */
export interface BufferDecl {
  readonly name: string;
  readonly dims: readonly number[];
  readonly init: Float32Array;
}

/** A per-step input (a mini-batch tensor); `shape` is per step, without any stacking axis. */
export interface FeedDecl {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

export interface ParamGroup {
  readonly name: string;
  readonly optimizer: Optimizer;
  /** Overrides of the optimiser's default hyper-parameters. */
  readonly hyper?: Readonly<Record<string, number>>;
}

export interface ForwardResult {
  /** Scalar loss tensor. */
  readonly loss: string;
  /** New value of each buffer (by buffer name); buffers left out are carried unchanged. */
  readonly buffers?: Readonly<Record<string, string>>;
  /** Scalar tensors reported with each step (label -> tensor). */
  readonly metrics?: Readonly<Record<string, string>>;
}

/** What a training runner needs to know about a model. */
export interface TrainableModel {
  readonly name: string;
  readonly params: readonly ParamDecl[];
  readonly buffers?: readonly BufferDecl[];
  readonly feeds: readonly FeedDecl[];
  readonly groups: readonly ParamGroup[];
  /**
   * Emits the forward pass into `b`. Parameters, buffers and feeds are already defined in `b` under
   * their declared names (float32, declared ranks); refer to them by name.
   */
  forward(b: GraphBuilder): ForwardResult;
  /** Default-domain opset (default 17). */
  readonly opset?: number;
}

/** Names used by step graphs. */
export const STEP = 'train:step';
export const LOSS = 'train:loss';
export const metricName = (label: string) => `train:metric:${label}`;
export const stateName = (param: string, key: string) => `${param}:${key}`;
export const hyperName = (group: string, key: string) => `${group}:${key}`;
export const nextName = (carried: string) => `${carried}:new`;
export const stackedName = (feed: string) => `${feed}:stack`;

/** Carried tensors in a fixed order: each parameter, its optimiser state, then the buffers. */
export function carriedTensors(model: TrainableModel): { name: string; dims: readonly number[] }[] {
  const out: { name: string; dims: readonly number[] }[] = [];
  for (const p of model.params) {
    out.push({ name: p.name, dims: p.dims });
    for (const k of groupOf(model, p).optimizer.stateKeys) out.push({ name: stateName(p.name, k), dims: p.dims });
  }
  for (const buf of model.buffers ?? []) out.push({ name: buf.name, dims: buf.dims });
  return out;
}

export function groupOf(model: TrainableModel, p: ParamDecl): ParamGroup {
  const g = model.groups.find((x) => x.name === p.group);
  if (!g) throw new RangeError(`parameter '${p.name}' names group '${p.group}', which ${model.name} does not define`);
  return g;
}

export function hyperInputs(model: TrainableModel): { name: string; group: string; key: string; value: number }[] {
  return model.groups.flatMap((g) => Object.entries(g.optimizer.defaults).map(([key, d]) => ({ name: hyperName(g.name, key), group: g.name, key, value: g.hyper?.[key] ?? d })));
}

/**
 * Emits forward + backward + updates into `b`, where parameters, state, buffers and feeds already
 * exist under their names, hyper-parameters are outer inputs and `step` is the 1-based int64 step.
 * Returns the names of the loss, metrics and each carried tensor's new value.
 */
function emitStep(b: GraphBuilder, model: TrainableModel, step: string): { loss: string; metrics: Record<string, string>; next: Map<string, string> } {
  const fwd = model.forward(b);
  const grads = backward(b, fwd.loss, model.params.map((p) => p.name), { dtype: 'float32', opset: model.opset ?? 17 });
  const next = new Map<string, string>();
  for (const group of model.groups) {
    const params = model.params.filter((p) => p.group === group.name);
    if (params.length === 0) continue;
    const slots = params.map((p) => ({
      param: p.name,
      grad: grads.get(p.name)!,
      state: Object.fromEntries(group.optimizer.stateKeys.map((k) => [k, stateName(p.name, k)])),
    }));
    const hyper = Object.fromEntries(Object.keys(group.optimizer.defaults).map((k) => [k, hyperName(group.name, k)]));
    const updated = applyOptimizer(b, group.optimizer, slots, hyper, step, 'float32');
    updated.forEach((u, i) => {
      const p = params[i]!;
      next.set(p.name, u.param);
      for (const k of group.optimizer.stateKeys) next.set(stateName(p.name, k), u.state[k]!);
    });
  }
  for (const buf of model.buffers ?? []) next.set(buf.name, fwd.buffers?.[buf.name] ?? buf.name);
  return { loss: fwd.loss, metrics: { ...(fwd.metrics ?? {}) }, next };
}

function declareHyper(b: GraphBuilder, model: TrainableModel): void {
  for (const h of hyperInputs(model)) b.input(h.name, 'float32', []);
}

/** Drops initialisers no node reads (gradient rules emit a few constants they end up not using). */
function dropUnusedInitializers(...graphs: GraphBuilder[]): void {
  const used = new Set(graphs.flatMap((g) => [...g.nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]));
  for (const g of graphs) {
    const kept = g.initializers.filter((i) => used.has(i.name));
    g.initializers.splice(0, g.initializers.length, ...kept);
  }
}

/** One step per call. Inputs: carried tensors, feeds, hyper-parameters, `train:step` (int64, 1-based). */
export function buildStepGraph(model: TrainableModel): Uint8Array {
  const b = new GraphBuilder(`${model.name}_train_step`);
  for (const c of carriedTensors(model)) b.input(c.name, 'float32', c.dims);
  for (const f of model.feeds) b.input(f.name, f.dtype, f.shape);
  declareHyper(b, model);
  const step = b.input(STEP, 'int64', []);
  const { loss, metrics, next } = emitStep(b, model, step);
  b.op('Identity', [loss], {}, LOSS);
  b.output(LOSS, 'float32', []);
  for (const [label, t] of Object.entries(metrics)) {
    b.op('Identity', [t], {}, metricName(label));
    b.output(metricName(label), 'float32', []);
  }
  for (const c of carriedTensors(model)) {
    b.op('Identity', [next.get(c.name)!], {}, nextName(c.name));
    b.output(nextName(c.name), 'float32', c.dims);
  }
  dropUnusedInitializers(b);
  return b.toModel(model.opset ?? 17);
}

/**
 * K steps per call: an ONNX Loop over feeds stacked as `<feed>:stack` [K, ...per-step shape]; `train:step`
 * is the number of steps completed before the call. Outputs: `train:loss` [K], each metric [K], and the
 * carried tensors after the last step (`<name>:new`).
 */
export function buildLoopGraph(model: TrainableModel): Uint8Array {
  const outer = new GraphBuilder(`${model.name}_train_loop`);
  const carried = carriedTensors(model);
  for (const c of carried) outer.input(c.name, 'float32', c.dims);
  for (const f of model.feeds) outer.input(stackedName(f.name), f.dtype, ['steps', ...f.shape]);
  declareHyper(outer, model);
  const done = outer.input(STEP, 'int64', []);

  const body = new GraphBuilder(`${model.name}_train_body`);
  body.reserve(...outer.inputs.map((i) => i.name));
  const iter = body.input('loop:iter', 'int64', []);
  const condIn = body.input('loop:cond', 'bool', []);
  // Carried values enter the body under their own names, so the forward pass refers to them as usual.
  for (const c of carried) body.input(c.name, 'float32', c.dims);
  for (const f of model.feeds) {
    const picked = body.op('Gather', [stackedName(f.name), iter], { axis: int(0) });
    // A Reshape to a constant all-zero shape is the identity, but tells rank inference the rank.
    body.op('Reshape', [picked, body.constI64(f.shape.map(() => 0))], {}, f.name);
  }
  const step = body.op('Add', [body.op('Add', [done, iter]), body.constI64([1], [])]);
  const { loss, metrics, next } = emitStep(body, model, step);
  const condOut = body.op('Identity', [condIn]);
  body.output(condOut, 'bool', []);
  for (const c of carried) {
    const out = body.op('Identity', [next.get(c.name)!]);
    body.output(out, 'float32', c.dims);
  }
  for (const t of [loss, ...Object.values(metrics)]) body.output(body.op('Identity', [t]), 'float32', []);

  const first = model.feeds[0];
  if (!first) throw new RangeError(`${model.name}: a training loop needs at least one feed`);
  // Explicit names: the body's generated names must not shadow outer-scope values.
  const zero = outer.initializer('loop:zero', 'int64', [], BigInt64Array.of(0n));
  const trips = outer.op('Gather', [outer.op('Shape', [stackedName(first.name)], {}, 'loop:shape'), zero], { axis: int(0) }, 'loop:trips');
  const outputs = [...carried.map((c) => nextName(c.name)), LOSS, ...Object.keys(metrics).map(metricName)];
  outer.node('Loop', [trips, '', ...carried.map((c) => c.name)], { body: { graph: body } }, outputs);
  for (const c of carried) outer.output(nextName(c.name), 'float32', c.dims);
  outer.output(LOSS, 'float32', ['steps']);
  for (const label of Object.keys(metrics)) outer.output(metricName(label), 'float32', ['steps']);
  dropUnusedInitializers(outer, body);
  return outer.toModel(model.opset ?? 17);
}
