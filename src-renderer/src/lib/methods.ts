/**
 * What the Train screen offers per method: a plain-language line (what it is good at, what it costs)
 * and the few settings worth changing. Defaults mirror each method's defaults file under
 * src-main/methods; the station validates every value again (services/training.ts).
 */
import type { ApiInput } from './contract.ts';

export type MethodName = ApiInput<'models.train'>['method'];
/** A setting's value as the training request carries it. */
export type SettingValue = number | string | boolean | readonly number[];

export type Setting =
  | { readonly kind: 'number'; readonly key: string; readonly label: string; readonly value: number; readonly min: number; readonly max: number; readonly step: number }
  | { readonly kind: 'choice'; readonly key: string; readonly label: string; readonly value: SettingValue; readonly options: ReadonlyArray<{ readonly value: SettingValue; readonly label: string }> }
  | { readonly kind: 'toggle'; readonly key: string; readonly label: string; readonly value: boolean };

export interface MethodInfo {
  readonly name: MethodName;
  readonly label: string;
  readonly about: string;
  /** Input sizes offered (px, square). */
  readonly sizes: readonly number[];
  readonly settings: readonly Setting[];
}

const SIZES = [224, 256, 320, 384, 512];
const epochs = (value: number, max = 500): Setting => ({ kind: 'number', key: 'epochs', label: 'Epochs', value, min: 1, max, step: 1 });
const errorScaling = (value: 'none' | 'variance'): Setting => ({
  kind: 'choice', key: 'normalise', label: 'Error scaling', value,
  options: [{ value: 'variance', label: 'by the training error at each position' }, { value: 'none', label: 'none (as the papers)' }],
});

const precision: Setting = {
  kind: 'choice', key: 'precision', label: 'Scoring arithmetic', value: 'int8',
  options: [{ value: 'int8', label: 'int8: 2-3x faster, same metrics to 0.1 point' }, { value: 'float32', label: 'float32' }],
};

export const METHODS: readonly MethodInfo[] = [
  {
    name: 'patchcore', label: 'PatchCore', sizes: SIZES,
    about: 'Memory bank of normal patch features: the best all-rounder. No training loop; fits in seconds to minutes.',
    settings: [
      { kind: 'number', key: 'coresetRatio', label: 'Coreset ratio', value: 0.1, min: 0.001, max: 1, step: 0.001 },
      { kind: 'number', key: 'numNeighbours', label: 'Neighbours (k)', value: 1, min: 1, max: 50, step: 1 },
      {
        kind: 'choice', key: 'search', label: 'Neighbour search', value: 'exact',
        options: [{ value: 'exact', label: 'exact (as the papers)' }, { value: 'approximate', label: 'approximate: faster inspection, the same image scores; anomaly map values may be slightly high away from the maximum' }],
      },
    ],
  },
  {
    name: 'padim', label: 'PaDiM', sizes: SIZES,
    about: 'One Gaussian per image position: fast to fit and to run; suits parts that are always placed the same way.',
    settings: [{ kind: 'number', key: 'channels', label: 'Channels', value: 100, min: 10, max: 792, step: 1 }],
  },
  {
    name: 'simplenet', label: 'SimpleNet', sizes: SIZES,
    about: 'A discriminator trained against noised features (experimental): minutes of training with a live loss; fast to run.',
    settings: [epochs(16)],
  },
  {
    name: 'pfm', label: 'PFM', sizes: [128, ...SIZES],
    about: 'Two pretrained networks learn to predict each other\'s features; defects break the mapping. Good on textures and fine scratches; minutes of training with a live loss, fast to run.',
    settings: [
      epochs(10),
      { kind: 'choice', key: 'levels', label: 'Levels', value: [1, 2, 3], options: [{ value: [1, 2, 3], label: 'all three (MB-PFM)' }, { value: [3], label: 'deepest only' }] },
      { kind: 'choice', key: 'direction', label: 'Direction', value: 'both', options: [{ value: 'both', label: 'both ways' }, { value: 's2t', label: 'one way (S→T)' }] },
      errorScaling('none'),
      precision,
    ],
  },
  {
    name: 'pefm', label: 'PEFM', sizes: [128, 256, 512],
    about: 'PFM that also knows where in the image each feature sits: better when parts are aligned and position matters; same cost as PFM.',
    settings: [
      epochs(10),
      { kind: 'choice', key: 'fusion', label: 'Fusion', value: 'add', options: [{ value: 'add', label: 'mean of levels' }, { value: 'multiply', label: 'product of levels' }] },
      { kind: 'toggle', key: 'positionEncoding', label: 'Position encoding', value: true },
      errorScaling('variance'),
      precision,
    ],
  },
  {
    name: 'cflow', label: 'CFLOW-AD', sizes: SIZES,
    about: 'Normalizing flows that learn how likely each feature is at each position: sharp localisation of small defects; the longest training (tens of minutes), moderate to run.',
    settings: [epochs(4, 25), { kind: 'number', key: 'subEpochs', label: 'Passes per epoch', value: 2, min: 1, max: 8, step: 1 }, precision],
  },
];

export function methodInfo(name: MethodName): MethodInfo {
  return METHODS.find((m) => m.name === name)!;
}

/** The display name of a stored model's method (its own name when this renderer does not know it). */
export function methodLabel(name: string): string {
  return METHODS.find((m) => m.name === name)?.label ?? name;
}

/** The settings' default values of a method, by key. */
export function defaultSettings(info: MethodInfo): Record<string, SettingValue> {
  return Object.fromEntries(info.settings.map((s) => [s.key, s.value]));
}
