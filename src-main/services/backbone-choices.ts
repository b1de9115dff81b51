/**
 * Which backbones of models/manifest.json a method can train on: those whose outputs include every
 * feature tap the method reads (`taps`, or PFM / PEFM's source taps) and whose file is present. The
 * Train screen offers them; a training request naming another one is refused before it is queued.
 */
import { ApiError } from '../api/contract.ts';
import { BackboneError, findBackboneFile, loadManifest } from '../features/backbones.ts';
import { getMethod } from '../methods/index.ts';

export interface BackboneChoice {
  readonly id: string;
  /** The method's own default backbone. */
  readonly isDefault: boolean;
  /** Why the method cannot use it (missing taps, missing file); null when it can. */
  readonly unusable: string | null;
  readonly source: string;
}

/** The feature taps a method's configuration reads from its backbone. */
function tapsOf(config: Record<string, unknown>): readonly string[] {
  const taps = config['taps'] ?? config['sourceTaps'];
  return Array.isArray(taps) ? taps.filter((t): t is string => typeof t === 'string') : [];
}

export function backboneChoices(methodName: string): BackboneChoice[] {
  const config = getMethod(methodName).defaults as Record<string, unknown>;
  const wanted = tapsOf(config);
  return loadManifest().backbones.map((b) => {
    const outputs = new Set(b.outputs.map((o) => o.name));
    const missing = wanted.filter((t) => !outputs.has(t));
    let unusable: string | null = missing.length ? `has no ${missing.join(', ')} output${missing.length > 1 ? 's' : ''}` : null;
    if (!unusable) {
      try {
        findBackboneFile(b.file);
      } catch (err) {
        if (!(err instanceof BackboneError)) throw err;
        unusable = `its file ${b.file} is not installed`;
      }
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
