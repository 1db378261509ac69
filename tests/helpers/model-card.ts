// What the default-model and RWKV tests check of a bundled model's card: its repeat-test figures against the
// engine's, and its prompt experiments (tools/card-experiments.sh, committed as models/<name>/card/<set>/
// experiment.json) against the committed cells.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { ExperimentDetail } from '../../shared/experiments.js';

/** The experiment command's experiment.json (server/experiments/report-schema.ts): the experiment's facts, then its
 * prompts, inputs, statistics and cells. */
export type ExperimentFile = Pick<ExperimentDetail, 'prompts' | 'inputs' | 'summary' | 'cells'> & { experiment: { models: string[] } };

export function readCardExperiment(dir: string, set: string): ExperimentFile {
  return JSON.parse(fs.readFileSync(path.join(dir, 'card', set, 'experiment.json'), 'utf8')) as ExperimentFile;
}

/** The experiment ran the model and its twin, and each of the model's mean benefits in the card (its table row
 * `| Pk | +m [lo, hi] |`) is the mean of at least 40 committed cells. */
export function expectCardStatesCellMeans(dir: string, e: ExperimentFile, models: [string, string]): void {
  expect(e.experiment.models).toEqual(models);
  const card = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  for (const s of e.summary.filter((x) => x.model === 0)) {
    const cells = e.cells.filter((c) => c.model === 0 && c.prompt === s.prompt && c.status === 'done');
    expect(cells.length).toBeGreaterThanOrEqual(40);
    expect(s.n).toBe(cells.length);
    const mean = cells.reduce((a, c) => a + c.meanBenefit!, 0) / cells.length;
    expect(Math.abs(mean - s.meanBenefit!.mean)).toBeLessThan(1e-9);
    const f = (x: number) => x.toFixed(3);
    expect(card).toContain(`| P${s.prompt + 1} | ${s.meanBenefit!.mean >= 0 ? '+' : ''}${f(s.meanBenefit!.mean)} [${f(s.meanBenefit!.lo)}, ${f(s.meanBenefit!.hi)}] |`);
  }
}

/** eval.json's repeat test (scripts/eval-model.ts) equals `measured` (the engine's, lm-eval's repeatTest) to 1e-3, and
 * the card states its drop. */
export function expectCardStatesRepeat(dir: string, measured: { firstCopy: number; secondCopy: number }): void {
  const ev = JSON.parse(fs.readFileSync(path.join(dir, 'eval.json'), 'utf8')) as { repeat: { firstCopy: number; secondCopy: number; difference: number } };
  expect(Math.abs(measured.firstCopy - ev.repeat.firstCopy)).toBeLessThan(1e-3);
  expect(Math.abs(measured.secondCopy - ev.repeat.secondCopy)).toBeLessThan(1e-3);
  expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toContain(`a drop of **${ev.repeat.difference.toFixed(4)}**`);
}
