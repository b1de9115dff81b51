import type { Optimizer, UpdateEmitter, Hyper, Slot } from './optimizer.ts';

/** The bias-corrected Adam step lr * m̂ / (sqrt(v̂) + eps), with the new moments. */
function adamStep(u: UpdateEmitter, g: string, { state }: Slot, h: Hyper) {
  const m = u.ema(h['beta1']!, state['exp_avg']!, g);
  const v = u.ema(h['beta2']!, state['exp_avg_sq']!, u.mul(g, g));
  const correction1 = u.oneMinus(u.pow(h['beta1']!, h.step));
  const correction2 = u.oneMinus(u.pow(h['beta2']!, h.step));
  const denom = u.add(u.div(u.sqrt(v), u.sqrt(correction2)), h['eps']!);
  const step = u.mul(u.div(h['lr']!, correction1), u.div(m, denom));
  return { step, state: { exp_avg: m, exp_avg_sq: v } };
}

/** Adam as torch.optim.Adam: weight decay is an L2 term added to the gradient. */
export function adam(): Optimizer {
  return {
    name: 'adam',
    stateKeys: ['exp_avg', 'exp_avg_sq'],
    defaults: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0 },
    update(u, slot, h) {
      const g = u.add(slot.grad, u.mul(h['weight_decay']!, slot.param));
      const { step, state } = adamStep(u, g, slot, h);
      return { param: u.sub(slot.param, step), state };
    },
  };
}

/** AdamW as torch.optim.AdamW: decoupled decay p *= 1 - lr * weight_decay before the Adam step. */
export function adamw(): Optimizer {
  return {
    name: 'adamw',
    stateKeys: ['exp_avg', 'exp_avg_sq'],
    defaults: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 },
    update(u, slot, h) {
      const decayed = u.mul(slot.param, u.oneMinus(u.mul(h['lr']!, h['weight_decay']!)));
      const { step, state } = adamStep(u, slot.grad, slot, h);
      return { param: u.sub(decayed, step), state };
    },
  };
}
