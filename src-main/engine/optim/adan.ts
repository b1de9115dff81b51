import type { Optimizer } from './optimizer.ts';

/**
 * Adan (Xie et al. 2022) as the official sail-sg/Adan PyTorch code, betas in its convention (0.98, 0.92, 0.99):
 * d = g - g_prev (0 on the first step), m = ema(β1, m, g), v = ema(β2, v, d), n = ema(β3, n, (g + β2 d)²),
 * p -= lr/(1-β1^t) · m/denom + lr·β2/(1-β2^t) · v/denom with denom = sqrt(n)/sqrt(1-β3^t) + eps,
 * then weight decay: p /= 1 + lr·wd (proximal, the default) or, with noProx, p *= 1 - lr·wd first.
 */
export function adan(options: { readonly noProx?: boolean } = {}): Optimizer {
  return {
    name: options.noProx ? 'adan_no_prox' : 'adan',
    stateKeys: ['exp_avg', 'exp_avg_diff', 'exp_avg_sq', 'prev_grad'],
    defaults: { lr: 1e-3, beta1: 0.98, beta2: 0.92, beta3: 0.99, eps: 1e-8, weight_decay: 0 },
    update(u, { param, grad, state }, h) {
      const [b1, b2, b3] = [h['beta1']!, h['beta2']!, h['beta3']!];
      const diff = u.sub(grad, u.where(h.first, grad, state['prev_grad']!));
      const m = u.ema(b1, state['exp_avg']!, grad);
      const v = u.ema(b2, state['exp_avg_diff']!, diff);
      const nesterov = u.add(grad, u.mul(b2, diff));
      const n = u.ema(b3, state['exp_avg_sq']!, u.mul(nesterov, nesterov));
      const correction = (beta: string) => u.oneMinus(u.pow(beta, h.step));
      const denom = u.add(u.div(u.sqrt(n), u.sqrt(correction(b3))), h['eps']!);
      const lr = h['lr']!;
      const decay = u.mul(lr, h['weight_decay']!);
      const start = options.noProx ? u.mul(param, u.oneMinus(decay)) : param;
      const stepM = u.mul(u.div(lr, correction(b1)), u.div(m, denom));
      const stepV = u.mul(u.div(u.mul(lr, b2), correction(b2)), u.div(v, denom));
      const moved = u.sub(u.sub(start, stepM), stepV);
      const next = options.noProx ? moved : u.div(moved, u.add(u.const(1), decay));
      return { param: next, state: { exp_avg: m, exp_avg_diff: v, exp_avg_sq: n, prev_grad: grad } };
    },
  };
}
