// The precache-lens CLI run as a child process: analyze, hooks, and its error messages.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { AnalysisResult } from '../shared/analysis.js';
import { FIXTURES } from './helpers/golden.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/precache-lens.mjs');
const MODEL = path.join(FIXTURES, 'gpt2-opset14');

describe('precache-lens CLI', () => {
  it('analyze reads prompt and input files, prints a summary and writes the JSON result', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-cli-'));
    fs.writeFileSync(path.join(dir, 'p.txt'), 'Dear {{who|friend}},\n');
    fs.writeFileSync(path.join(dir, 'x.txt'), 'how are you?');
    const out = path.join(dir, 'out.json');
    const { stdout } = await run('node', [BIN, 'analyze', '--model', MODEL, '--prompt-file', path.join(dir, 'p.txt'), '--input-file', path.join(dir, 'x.txt'), '--json', out, '--threads', '1'], {
      env: { ...process.env, PRECACHE_LENS_DATA: dir },
    });
    expect(stdout).toMatch(/mean prompt benefit/);
    expect(stdout).toMatch(/precomputation share pi/);
    const r = JSON.parse(fs.readFileSync(out, 'utf8')) as AnalysisResult;
    expect(r.spans.map((s) => s.label)).toEqual(['who']);
    expect(r.summary.identityResidual).toBeLessThan(1e-4);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a missing input file is an error naming the flag, with exit code 1', async () => {
    const e = (await run('node', [BIN, 'analyze', '--model', MODEL, '--input-file', '/nonexistent/x.txt']).catch((err: unknown) => err)) as { code: number; stderr: string };
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/--input-file: cannot read \/nonexistent\/x.txt/);
  });

  it('a directory that is not a model is an error naming the missing file', async () => {
    const e = (await run('node', [BIN, 'analyze', '--model', os.tmpdir(), '--input', 'x']).catch((err: unknown) => err)) as { code: number; stderr: string };
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/config\.json: missing/);
  });

  it('hooks lists every hook name of the model', async () => {
    const { stdout } = await run('node', [BIN, 'hooks', '--model', MODEL]);
    expect(stdout).toMatch(/blocks\.2\.attn\.hook_value_norm\s+\[B,H,T\]/);
    expect(stdout).toMatch(/ln_final\.hook_normalized/);
  });
});
