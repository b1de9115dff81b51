import { describe, expect, it } from 'vitest';
import { BackboneError, equivalentTaps, getBackbone } from '../../src-main/features/backbones.ts';
import { withBackboneTaps } from '../../src-main/methods/backbone-taps.ts';
import { PATCHCORE_DEFAULTS } from '../../src-main/methods/patchcore/defaults.ts';
import { CFLOW_DEFAULTS } from '../../src-main/methods/cflow/defaults.ts';

const v2 = getBackbone('mobilenet_v2_features');
const v1 = getBackbone('mobilenet_v1_features');

describe('taps carried over to another backbone', () => {
  it('takes the output of the same stride with the most channels', () => {
    expect(equivalentTaps(['feat_s4', 'feat_s8_exp', 'feat_s16_exp'], v2, v1)).toEqual(['feat_s4', 'feat_s8', 'feat_s16']);
    // MobileNetV2 has two stride-8 outputs: the 192-channel expansion, not the 32-channel projection
    expect(equivalentTaps(['feat_s8'], v1, v2)).toEqual(['feat_s8_exp']);
  });

  it('names the stride a backbone lacks', () => {
    expect(() => equivalentTaps(['feat_s32_exp'], getBackbone('mobilenet_v2_full'), v2)).toThrow(BackboneError);
    expect(() => equivalentTaps(['feat_s32_exp'], getBackbone('mobilenet_v2_full'), v2)).toThrow(/no feature output of stride 32/);
  });

  it("gives a method's default taps to the backbone it is asked to use", () => {
    const config = withBackboneTaps({ ...PATCHCORE_DEFAULTS, backbone: 'mobilenet_v1_features' }, PATCHCORE_DEFAULTS);
    expect(config.taps).toEqual(['feat_s8', 'feat_s16']);
    expect(withBackboneTaps({ ...CFLOW_DEFAULTS, backbone: 'mobilenet_v1_features' }, CFLOW_DEFAULTS).taps).toEqual(['feat_s8', 'feat_s16', 'feat_s32']);
  });

  it('leaves the default backbone and taps the settings name themselves as they are', () => {
    const onDefault = { ...PATCHCORE_DEFAULTS };
    expect(withBackboneTaps(onDefault, PATCHCORE_DEFAULTS)).toBe(onDefault);
    const own = withBackboneTaps({ ...PATCHCORE_DEFAULTS, backbone: 'mobilenet_v1_features', taps: ['feat_s4', 'feat_s8'] }, PATCHCORE_DEFAULTS);
    expect(own.taps).toEqual(['feat_s4', 'feat_s8']);
  });
});
