// CLI: an experiment with an RNN as the second model (`--with`), and the error naming the flag when it repeats --model.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runExperimentCommand } from '../server/cli-experiment.js';

const FX = path.resolve(__dirname, 'fixtures/models');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-rwkv-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
fs.writeFileSync(path.join(tmp, 'p.txt'), 'Say it twice: \n');
fs.writeFileSync(path.join(tmp, 'x.txt'), 'Hello, hello!\n---\nWorld, world.\n');
const base = { prompts: path.join(tmp, 'p.txt'), inputs: path.join(tmp, 'x.txt'), field: 'text', spanKnockouts: false, resamples: 200, quiet: true, threads: 1 };

describe('experiment --with', () => {
  it('runs every cell on the transformer and on the RNN and reports both models', async () => {
    const out = path.join(tmp, 'exp');
    const d = await runExperimentCommand({ ...base, model: path.join(FX, 'gpt2-opset14'), with: path.join(FX, 'rwkv-tiny'), out }, () => {});
    expect(d.models).toEqual(['gpt2-opset14', 'rwkv-tiny']);
    expect(d.cells.filter((c) => c.status === 'done')).toHaveLength(4);
    expect(d.twins![0].n).toBe(2);
  }, 120_000);

  it('names --with when it is the same model as --model', async () => {
    const m = path.join(FX, 'rwkv-tiny');
    await expect(runExperimentCommand({ ...base, model: m, with: m, out: path.join(tmp, 'same') }, () => {})).rejects.toThrow(/^--with:/);
  });
});
