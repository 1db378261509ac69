// CLI `experiment`: prompts x inputs from files or a bundled set, reports written to --out, a rerun resumes instead of recomputing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runExperimentCommand } from '../server/cli-experiment.js';
import { DEFAULT_MODEL_DIR } from '../server/model/registry.js';
import { readTextsFile } from '../server/experiments/input-files.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-exp-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
};
const base = { field: 'text', model: DEFAULT_MODEL_DIR, spanKnockouts: false, resamples: 200, quiet: true };

describe('precache-lens experiment', () => {
  it('runs every prompt on every input, writes JSON, HTML and CSV reports, and a rerun reuses the finished cells', async () => {
    const prompts = file('prompts.txt', 'The President said: \n---\nOnce upon a time, \n');
    const inputs = file('inputs.csv', 'id,body\n1,The state of the Union is strong.\n2,"We shall, at last, have peace."\n');
    const out = path.join(tmp, 'out1');
    const log: string[] = [];
    const d = await runExperimentCommand({ ...base, quiet: false, prompts, inputs, field: 'body', out }, (s) => log.push(s));
    expect(d.progress).toMatchObject({ done: 4, total: 4 });
    expect(d.inputs[1].text).toBe('We shall, at last, have peace.');
    for (const f of ['experiment.json', 'experiment.html', 'experiment-cells.csv', 'experiment-prompts.csv', 'experiment-pairs.csv']) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    const rep = JSON.parse(fs.readFileSync(path.join(out, 'experiment.json'), 'utf8')) as { schema: string; summary: { meanBenefit: { mean: number } }[] };
    expect(rep.schema).toBe('precache-lens.experiment/1');
    expect(rep.summary[0].meanBenefit.mean).toBe(d.summary[0].meanBenefit!.mean);
    expect(log.join('\n')).toMatch(/P1 - P2: /);

    const again: string[] = [];
    const d2 = await runExperimentCommand({ ...base, prompts, inputs, field: 'body', out }, (s) => again.push(s));
    expect(again[0]).toMatch(/^already computed: experiment /);
    expect(d2.id).toBe(d.id);
    expect(d2.cells.map((c) => c.runId)).toEqual(d.cells.map((c) => c.runId));
  }, 120_000);

  it('draws inputs from a bundled set', async () => {
    const prompts = file('p1.txt', 'Mr. Speaker: ');
    const d = await runExperimentCommand({ ...base, prompts, inputSet: 'sotu-1946-2020', count: 2, seed: 3, out: path.join(tmp, 'out2') }, () => {});
    expect(d.inputs.map((x) => x.source?.set)).toEqual(['sotu-1946-2020', 'sotu-1946-2020']);
    expect(d.status).toBe('done');
  }, 120_000);

  it('refuses ambiguous or bad arguments naming the flag', async () => {
    const prompts = file('p2.txt', 'A: ');
    const inputs = file('in.txt', 'x\n---\ny\n');
    const out = path.join(tmp, 'out3');
    await expect(runExperimentCommand({ ...base, prompts, inputs, inputSet: 'brown-press', out })).rejects.toThrow(/--inputs FILE or --input-set ID/);
    await expect(runExperimentCommand({ ...base, prompts, inputSet: 'nope', out })).rejects.toThrow(/^--input-set: no bundled input set "nope"/);
    await expect(runExperimentCommand({ ...base, prompts, inputSet: 'brown-press', count: 5000, out })).rejects.toThrow(/^--count: /);
    await expect(runExperimentCommand({ ...base, prompts: path.join(tmp, 'missing.txt'), inputs, out })).rejects.toThrow(/--prompts: cannot read/);
  });
});

describe('input files', () => {
  it('reads blocks, JSONL (a chosen field) and CSV (a chosen column), naming the file and line on errors', () => {
    expect(readTextsFile(file('a.txt', 'one\n---\ntwo\nlines\n'), '--inputs')).toEqual(['one', 'two\nlines']);
    expect(readTextsFile(file('a.jsonl', '{"t":"x"}\n\n{"t":"y"}\n'), '--inputs', 't')).toEqual(['x', 'y']);
    expect(() => readTextsFile(file('b.jsonl', '{"t":"x"}\nnot json\n'), '--inputs', 't')).toThrow(/b\.jsonl line 2: not JSON/);
    expect(() => readTextsFile(file('c.jsonl', '{"u":"x"}\n'), '--inputs', 't')).toThrow(/line 1: has no string field "t"/);
    expect(() => readTextsFile(file('d.csv', 'a,b\n1,2\n'), '--inputs', 'text')).toThrow(/no column "text"; columns: a, b/);
    expect(() => readTextsFile(file('e.txt', '\n---\n  \n'), '--inputs')).toThrow(/holds no texts/);
  });
});
