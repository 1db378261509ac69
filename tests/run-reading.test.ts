// A run read in plain words: the summary sentence, the note on a negative D(k), and what to try next.
import { describe, expect, it } from 'vitest';
import { negativeDepthNote, nextStep, runSummary } from '../shared/run-reading.js';
import { DEFAULT_ID } from './helpers/bundled.js';

describe('the summary sentence under a run', () => {
  it('gives the benefit in nats/token and as a share of the no-prompt loss, then π once it is a share', () => {
    const s = runSummary({ model: DEFAULT_ID, meanBenefit: 0.9, meanLossNoPrompt: 6.9, depth: { depthCurve: [0.8, 0.456, 0], precomputationShare: 0.57 } });
    expect(s).toBe(`The prompt lowers ${DEFAULT_ID}'s loss on the input by 0.90 nats/token (13 % of its loss without the prompt); 57 % of the benefit from the second input token on needs computation done at the prompt's columns (π).`);
  });
  it('says "raises" for a prompt that hurts, and leaves π out', () => {
    expect(runSummary({ model: 'm', meanBenefit: -0.3, meanLossNoPrompt: 3, depth: { depthCurve: [-0.3, -0.1, 0], precomputationShare: 0.33 } })).toBe("The prompt raises m's loss on the input by 0.30 nats/token (10 % of its loss without the prompt).");
  });
  it('says "barely changes" below 0.02 nats/token', () => {
    expect(runSummary({ model: 'm', meanBenefit: 0.004, meanLossNoPrompt: 3 })).toMatch(/^The prompt barely changes m's loss/);
  });
  it('does not read π as a share when D(0) is tiny', () => {
    expect(runSummary({ model: 'm', meanBenefit: 0.5, meanLossNoPrompt: 3, depth: { depthCurve: [0.001, 0.0005, 0], precomputationShare: 0.5 } })).toContain('cannot be read here');
  });
});

describe('a negative depth curve', () => {
  it('names the layers where D(k) < 0 and what that means', () => {
    const note = negativeDepthNote([0.5, 0.2, 0.05, -0.1, -0.2, -0.15, -0.05, 0.01, 0]);
    expect(note).toContain('k = 3–6');
    expect(note).toContain('down to −0.200 nats');
    expect(note).toContain('hurts its predictions');
  });
  it('says nothing when D(k) stays at or above 0', () => {
    expect(negativeDepthNote([0.5, 0.3, 0.1, 0])).toBeNull();
  });
});

describe('what to try next', () => {
  it('suggests dropping the least important span when there are several', () => {
    const s = nextStep([
      { label: 'genre', kAllLayers: 0.4 },
      { label: 'The following is a', kAllLayers: 0.02 },
    ]);
    expect(s.kind).toBe('drop-span');
    expect(s.text).toContain('“The following is a”');
  });
  it('suggests an experiment for a prompt with one span or none', () => {
    expect(nextStep([{ label: 'all', kAllLayers: 0.3 }]).kind).toBe('experiment');
  });
});
