/**
 * Which backbones of models/manifest.json a method can train on: those with every feature tap the
 * method reads (its `taps` carried over by stride, methods/backbone-taps.ts, or PFM / PEFM's source
 * taps by name) and whose file is present. The Train screen offers them; a training request naming
 * another one is refused before it is queued.
 */
import { ApiError } from '../api/contract.ts';
import { BackboneError, findBackboneFile, loadManifest, type BackboneSpec } from '../features/backbones.ts';
import { withBackboneTaps } from '../methods/backbone-taps.ts';
import { getMethod } from '../methods/index.ts';

export interface BackboneChoice {
  readonly id: string;
  /** The method's own default backbone. */
  readonly isDefault: boolean;
  /** Why the method cannot use it (missing taps, missing file); null when it can. */
  readonly unusable: string | null;
  readonly source: string;
}

/**
 * Why backbone `b` lacks the feature taps a method's settings read from it (`taps`, carried over by
 * stride from the default backbone, or PFM / PEFM's source taps by name); null when it has them.
 */
function missingTaps(config: Record<string, unknown>, b: BackboneSpec): string | null {
  const taps = config['taps'] ?? config['sourceTaps'];
  const wanted = Array.isArray(taps) ? taps.filter((t): t is string => typeof t === 'string') : [];
  const outputs = new Set(b.outputs.map((o) => o.name));
  const missing = wanted.filter((t) => !outputs.has(t));
  return missing.length ? `has no ${missing.join(', ')} output${missing.length > 1 ? 's' : ''}` : null;
}

export function backboneChoices(methodName: string): BackboneChoice[] {
  const config = getMethod(methodName).defaults as Record<string, unknown>;
  const manifest = loadManifest();
  return manifest.backbones.map((b) => {
    let unusable: string | null;
    try {
      unusable = missingTaps(withBackboneTaps({ ...config, backbone: b.id }, config), b);
      if (!unusable) findBackboneFile(b.file);
    } catch (err) {
      if (!(err instanceof BackboneError) || (err.code !== 'missing' && err.details.missing === undefined)) throw err;
      unusable = err.code === 'missing' ? `its file ${b.file} is not installed` : `has no ${err.details.missing}`;
    }
    return { id: b.id, isDefault: b.id === config['backbone'], unusable, source: b.source };
  });
}

/** Refuses a backbone the method cannot train on, naming the ones it can. */
export function checkBackbone(methodName: string, id: string): void {
  const choices = backboneChoices(methodName);
  const choice = choices.find((c) => c.id === id);
  const usable = choices.filter((c) => c.unusable === null).map((c) => c.id).join(', ');
  if (!choice) throw new ApiError('BAD_INPUT', `no backbone '${id}' in models/manifest.json; ${methodName} can use: ${usable}`);
  if (choice.unusable) throw new ApiError('BAD_INPUT', `${methodName} cannot use backbone '${id}': it ${choice.unusable}; ${methodName} can use: ${usable}`);
}
