import type { Optimizer } from './optimizer.ts';

/**
 * SGD with momentum, as torch.optim.SGD: g = grad + weight_decay * p; the buffer starts as g on the
 * first step, then buf = momentum * buf + (1 - dampening) * g; p -= lr * (nesterov ? g + momentum * buf : buf).
 */
export function sgd(options: { readonly nesterov?: boolean } = {}): Optimizer {
  return {
    name: options.nesterov ? 'sgd_nesterov' : 'sgd',
    stateKeys: ['momentum_buffer'],
    defaults: { lr: 0.01, momentum: 0.9, dampening: 0, weight_decay: 0 },
    update(u, { param, grad, state }, h) {
      const g = u.add(grad, u.mul(h['weight_decay']!, param));
      const running = u.add(u.mul(h['momentum']!, state['momentum_buffer']!), u.mul(u.oneMinus(h['dampening']!), g));
      const buf = u.where(h.first, g, running);
      const direction = options.nesterov ? u.add(g, u.mul(h['momentum']!, buf)) : buf;
      return { param: u.sub(param, u.mul(h['lr']!, direction)), state: { momentum_buffer: buf } };
    },
  };
}
