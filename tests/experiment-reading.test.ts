// Plain readings of experiment statistics: the pair sentence (Holm-read), the "π is not a share" rule, ranking and ticks.
import { describe, expect, it } from 'vitest';
import { experimentPiVerdict, niceTicks, pairReading, rankPrompts } from '../shared/experiment-reading.js';
import { DEFAULT_ID, TWIN_ID, RWKV_ID } from './helpers/bundled.js';

const iv = (mean: number, lo: number, hi: number) => ({ mean, lo, hi });

describe('pair sentences', () => {
  it('names the prompt that lowers the loss more, its interval and the Holm p when the difference holds after correction', () => {
    const r = pairReading({ n: 40, meanBenefitDiff: { ...iv(0.12, 0.03, 0.21), p: 0.004, pHolm: 0.012 } }, 'P1', 'P2', 3);
    expect(r.winner).toBe('a');
    expect(r.sentence).toBe("P1 lowers the loss more than P2 by 0.120 nats/token [0.030, 0.210]; this holds after Holm's correction for 3 comparisons (p = 0.012, n = 40 inputs).");
  });

  it('puts the better prompt first when b wins, with the interval flipped to stay ordered', () => {
    const r = pairReading({ n: 10, meanBenefitDiff: { ...iv(-0.2, -0.3, -0.1), p: 0.001, pHolm: 0.002 } }, 'short', 'long', 2);
    expect(r.winner).toBe('b');
    expect(r.sentence).toMatch(/^long lowers the loss more than short by 0\.200 nats\/token \[0\.100, 0\.300\]/);
  });

  it('says "not shown after correction" when only the raw p is below 0.05 (raw 0.039, Holm 0.117)', () => {
    const r = pairReading({ n: 8, meanBenefitDiff: { ...iv(0.05, 0.001, 0.1), p: 0.039, pHolm: 0.117 } }, 'P1', 'P3', 3);
    expect(r.winner).toBeNull();
    expect(r.sentence).toContain('No difference shown between P1 and P3');
    expect(r.sentence).toContain("not shown after Holm's correction for 3 comparisons (p = 0.117");
    expect(r.sentence).toContain('(p = 0.039)');
  });

  it('says "no difference shown" when neither p is small', () => {
    const r = pairReading({ n: 8, meanBenefitDiff: { ...iv(0.01, -0.05, 0.07), p: 0.6, pHolm: 1 } }, 'A', 'B', 1);
    expect(r.winner).toBeNull();
    expect(r.sentence).toMatch(/^No difference shown between A and B/);
  });

  it('uses the experiment level: at 90% a Holm p of 0.08 holds', () => {
    expect(pairReading({ n: 8, meanBenefitDiff: { ...iv(0.1, 0.01, 0.2), p: 0.04, pHolm: 0.08 } }, 'A', 'B', 2, 0.9).winner).toBe('a');
  });
});

describe('π over an experiment is marked "not a share" by the single-run rule', () => {
  const base = { meanBenefit: iv(0.5, 0.3, 0.7), depthCurve: [iv(0.4, 0.2, 0.6), iv(0.2, 0.1, 0.3)], precomputationShare: iv(0.5, 0.3, 0.7) };
  it('is a share when mean B > 0 and the D(0) interval lies above 0', () => {
    expect(experimentPiVerdict(base)).toEqual({ ok: true });
  });
  it('is not a share when mean B is negative', () => {
    const v = experimentPiVerdict({ ...base, meanBenefit: iv(-0.3, -0.5, -0.1) });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toMatch(/^not a share: the prompt raises the loss/);
  });
  it('is not a share when the D(0) interval includes 0', () => {
    const v = experimentPiVerdict({ ...base, depthCurve: [iv(0.1, -0.05, 0.25), iv(0.05, 0, 0.1)] });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toContain('includes 0');
  });
  it('is not a share before any cell has a depth curve', () => {
    expect(experimentPiVerdict({ ...base, depthCurve: [], precomputationShare: null }).ok).toBe(false);
  });
});

describe('ranking and ticks', () => {
  it('ranks prompts by mean B, best first, unfinished last', () => {
    const rows = [
      { prompt: 0, meanBenefit: iv(0.1, 0, 0.2) },
      { prompt: 1, meanBenefit: null },
      { prompt: 2, meanBenefit: iv(0.3, 0.2, 0.4) },
    ];
    expect(rankPrompts(rows).map((r) => r.prompt)).toEqual([2, 0, 1]);
  });
  it('ticks are round numbers covering the range, 0 included when it is inside', () => {
    expect(niceTicks(-3.2, 6.4, 4)).toEqual([-2, 0, 2, 4, 6]);
    expect(niceTicks(0, 0.5, 5)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5]);
  });
});

describe('the HTML report reads the experiment the same way as the page', async () => {
  const { experimentReport, renderExperimentHtml } = await import('../server/experiments/report.js');
  const { constructedExperiment } = await import('./helpers/constructed-experiment.js');
  const html = renderExperimentHtml(experimentReport(constructedExperiment()));

  it('marks every π as not a share when all prompts raise the loss', () => {
    expect(html.match(/class="note pi-caveat">not a share/g)).toHaveLength(3);
    expect(html).toContain("pi is not a share for P1, P2, recipe");
  });

  it('has one sentence per pair, read with Holm over the 3 pairs', () => {
    expect(html).toContain("P1 lowers the loss more than P2 by 0.250 nats/token [0.120, 0.380]; this holds after Holm&#39;s correction for 3 comparisons (p = 0.012");
    expect(html).toContain('No difference shown between P1 and recipe');
  });

  it('lists the prompts best mean B first', () => {
    const body = html.slice(html.indexOf('prompt (best mean B first)'));
    expect(body.indexOf('<td>P1</td>')).toBeLessThan(body.indexOf('<td>recipe</td>'));
    expect(body.indexOf('<td>recipe</td>')).toBeLessThan(body.indexOf('<td>P2</td>'));
  });
});

describe('the experiment CLI prints the same readings', async () => {
  const { printExperimentSummary } = await import('../server/cli-experiment.js');
  const { constructedExperiment } = await import('./helpers/constructed-experiment.js');
  it('prints prompts best first with the "not a share" reason, and one sentence per pair', () => {
    const lines: string[] = [];
    printExperimentSummary(constructedExperiment(), (s) => lines.push(s));
    const text = lines.join('\n');
    expect(text.indexOf('  P1  n=8')).toBeLessThan(text.indexOf('  P3  n=8'));
    expect(text.indexOf('  P3  n=8')).toBeLessThan(text.indexOf('  P2  n=8'));
    expect(lines.filter((l) => l.includes('pi is not a share: the prompt raises the loss'))).toHaveLength(3);
    expect(text).toContain("P1 lowers the loss more than P2 by 0.250 nats/token [0.120, 0.380]; this holds after Holm's correction for 3 comparisons");
    expect(text).toContain('No difference shown between P1 and recipe');
  });
});

describe('an experiment on two models says "myopic" only for twins', async () => {
  const { areTwinModels, secondModelWords } = await import('../shared/experiment-reading.js');
  const { experimentReport, renderExperimentHtml } = await import('../server/experiments/report.js');
  const { constructedExperiment } = await import('./helpers/constructed-experiment.js');
  it('names twins as twins and any other pair by its models', () => {
    expect(areTwinModels([DEFAULT_ID, TWIN_ID])).toBe(true);
    expect(areTwinModels([DEFAULT_ID, RWKV_ID])).toBe(false);
    expect(secondModelWords([DEFAULT_ID, TWIN_ID]).models).toBe(`${DEFAULT_ID} and its myopic twin ${TWIN_ID}`);
    expect(secondModelWords([DEFAULT_ID, RWKV_ID]).piDiff).toBe(`π(${RWKV_ID}) − π(${DEFAULT_ID})`);
  });
  it('the HTML report of a transformer-next-to-RNN experiment has no "myopic" in it', () => {
    const d = { ...constructedExperiment(), models: [DEFAULT_ID, RWKV_ID], twins: [] };
    const html = renderExperimentHtml(experimentReport(d));
    expect(html).toContain(`Second model: ${RWKV_ID}`);
    expect(html).not.toMatch(/myopi/i);
    const twins = renderExperimentHtml(experimentReport({ ...d, models: [DEFAULT_ID, TWIN_ID] }));
    expect(twins).toContain('<h2>Myopic twin</h2>');
  });
});

describe('the HTML report draws a labelled zero line in its forest plots', async () => {
  const { experimentReport, renderExperimentHtml } = await import('../server/experiments/report.js');
  const { constructedExperiment } = await import('./helpers/constructed-experiment.js');
  it('labels 0 as "no effect" in both forest plots', () => {
    const html = renderExperimentHtml(experimentReport(constructedExperiment()));
    expect(html.match(/0 = no effect/g)?.length).toBe(2);
  });
});
