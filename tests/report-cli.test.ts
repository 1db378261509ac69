// The export CLI: `report` from an analyze --json file (offline), `batch` over prompts x inputs (resumable), and
// `activations`; plus the pure pieces they rest on (batch file blocks, safetensors writer/reader, hook globs).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Ajv2020 from 'ajv/dist/2020.js';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisResult } from '../shared/analysis.js';
import { resolveHooks, hookShape } from '../server/report/activations.js';
import { splitBlocks } from '../shared/experiment-inputs.js';
import { readSafetensors, writeSafetensors } from '../server/report/safetensors.js';
import { SCHEMAS_DIR } from '../scripts/write-schemas.js';
import { FIXTURES } from './helpers/golden.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/precache-lens.mjs');
const MODEL = path.join(FIXTURES, 'gpt2-opset14');

let dir: string;
const env = () => ({ ...process.env, PRECACHE_LENS_DATA: path.join(dir, 'data') });
const cli = (args: string[]) => run('node', [BIN, ...args], { env: env() });
const ajv = new Ajv2020.default({ allErrors: true, strict: true });
const validator = (file: string) => ajv.compile(JSON.parse(fs.readFileSync(path.join(SCHEMAS_DIR, file), 'utf8')) as object);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-report-cli-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('batch files', () => {
  it('split into texts at lines holding only ---, keeping multi-line texts and skipping empty blocks', () => {
    expect(splitBlocks('one\n---\ntwo\nlines\n --- \n\n---\nlast\n')).toEqual(['one', 'two\nlines', 'last']);
    expect(splitBlocks('ends with newline\n\n---\nx')).toEqual(['ends with newline\n', 'x']);
    expect(splitBlocks('a\r\n---\r\nb\r\n')).toEqual(['a', 'b']);
    expect(splitBlocks('not --- a separator')).toEqual(['not --- a separator']);
  });
});

describe('safetensors writer and hook globs', () => {
  it('writes a header padded to 8 bytes and reads back the same tensors and metadata', () => {
    const a = { name: 'blocks.0.hook_resid_pre', dims: [1, 2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, -0, 7]) };
    const b = { name: 'x', dims: [2], data: Float32Array.from([3.4e38, -1]) };
    const buf = writeSafetensors([a, b], { prompt: 'héllo "q"' });
    expect(Number(buf.readBigUInt64LE(0)) % 8).toBe(0);
    const back = readSafetensors(buf);
    expect(back.metadata).toEqual({ prompt: 'héllo "q"' });
    expect(back.header['x'].data_offsets).toEqual([24, 32]);
    expect(back.tensors.get(a.name)).toEqual({ dims: [1, 2, 3], data: a.data });
    expect(back.tensors.get('x')!.data).toEqual(b.data);
  });

  it('expands globs in layer-major order and names the entry that matches nothing', () => {
    expect(resolveHooks(['blocks.*.attn.hook_pattern', 'blocks.0.hook_resid_pre'], 2)).toEqual(['blocks.0.hook_resid_pre', 'blocks.0.attn.hook_pattern', 'blocks.1.attn.hook_pattern']);
    expect(resolveHooks(['*'], 1)).toHaveLength(8);
    expect(() => resolveHooks(['logits', 'blocks.?.hook_nothing'], 2)).toThrow(/hooks\.1: "blocks\.\?\.hook_nothing" matches no hook/);
    expect(hookShape('blocks.3.attn.hook_pattern', { nHead: 6, dModel: 192, dHead: 32, vocabSize: 50257 }, 10)).toEqual([1, 6, 10, 10]);
    expect(hookShape('blocks.3.attn.hook_v', { nHead: 6, dModel: 192, dHead: 32, vocabSize: 50257 }, 10)).toEqual([1, 10, 6, 32]);
  });
});

describe('report and activations commands', () => {
  let resultFile: string;
  let result: AnalysisResult;

  beforeAll(async () => {
    resultFile = path.join(dir, 'r.json');
    await cli(['analyze', '--model', MODEL, '--prompt', 'Dear {{who|friend}},\n', '--input', 'how are you?', '--json', resultFile, '--threads', '1', '-q']);
    result = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as AnalysisResult;
  });

  it('report --format json turns an analyze --json file into a report that validates against the schema', async () => {
    const out = path.join(dir, 'r.report.json');
    await cli(['report', '--run', resultFile, '--format', 'json', '--model', MODEL, '--out', out]);
    const rep = JSON.parse(fs.readFileSync(out, 'utf8'));
    const validate = validator('report.v1.schema.json');
    expect(validate(rep), JSON.stringify(validate.errors)).toBe(true);
    expect(rep.run.id).toBeNull();
    expect(rep.model.config.configJson).toBeTypeOf('object');
    expect(rep.metrics).toEqual(result);
  });

  it('report --format csv writes to standard output, and two --run files make a comparison', async () => {
    const { stdout } = await cli(['report', '--run', resultFile, '--format', 'csv', '--table', 'spans']);
    const rows = parseCsv(stdout, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.label, Number(r.k_all_layers)])).toEqual([['who', result.spans[0].kAllLayers]]);
    const { stdout: html } = await cli(['report', '--run', resultFile, resultFile, '--format', 'html']);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('Precache Lens comparison');
  });

  it('report refuses a file that is not an analysis result, naming what is wrong', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ hello: 1 }));
    const e = (await cli(['report', '--run', bad, '--format', 'json']).catch((err: unknown) => err)) as { code: number; stderr: string };
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/not an analysis result/);
  });

  it('activations writes the chosen hooks of a saved result as a safetensors file', async () => {
    const out = path.join(dir, 'r.safetensors');
    await cli(['activations', '--run', resultFile, '--model', MODEL, '--hooks', 'blocks.*.hook_resid_post', 'logits', '--out', out, '--threads', '1']);
    const st = readSafetensors(fs.readFileSync(out));
    const T = 1 + result.p + result.n;
    expect([...st.tensors.keys()]).toEqual(['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post', 'blocks.2.hook_resid_post', 'logits']);
    expect(st.tensors.get('logits')!.dims).toEqual([1, T, result.model.vocabSize]);
    expect(JSON.parse(st.metadata.token_ids)).toHaveLength(T);
  });
});

describe('batch command', () => {
  it('runs every prompt x input, writes the comparison files, and on a rerun recomputes only the missing pair', async () => {
    const prompts = path.join(dir, 'prompts.txt');
    const inputs = path.join(dir, 'inputs.txt');
    fs.writeFileSync(prompts, 'Dear {{who|friend}},\nthank you.\n---\nA note:\n');
    fs.writeFileSync(inputs, 'how are you?\n---\nsee you soon');
    const out = path.join(dir, 'batch');
    const args = ['batch', '--model', MODEL, '--prompts', prompts, '--inputs', inputs, '--out', out, '--threads', '1'];
    const first = await cli(args);
    expect(first.stderr).toMatch(/4 pairs computed, 0 reused/);
    const runFiles = ['1-1', '1-2', '2-1', '2-2'].map((n) => path.join(out, 'runs', `${n}.json`));
    for (const f of runFiles) expect(fs.existsSync(f), f).toBe(true);
    for (const f of ['comparison.html', 'comparison.json', 'comparison.csv', 'comparison-tokens.csv']) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    const r21 = JSON.parse(fs.readFileSync(runFiles[2], 'utf8')) as AnalysisResult;
    expect([r21.prompt.raw, r21.input.text]).toEqual(['A note:', 'how are you?']);

    const mtimes = runFiles.map((f) => fs.statSync(f).mtimeMs);
    fs.rmSync(runFiles[1]);
    const second = await cli(args);
    expect(second.stderr).toMatch(/1 pairs computed, 3 reused/);
    const after = runFiles.map((f) => fs.statSync(f).mtimeMs);
    expect(after[0]).toBe(mtimes[0]);
    expect(after[2]).toBe(mtimes[2]);
    expect(after[3]).toBe(mtimes[3]);
    expect(fs.existsSync(runFiles[1])).toBe(true);
    expect(fs.readdirSync(path.join(out, 'runs')).filter((f) => f.includes('.tmp-') || f.endsWith('.tmp'))).toEqual([]);

    const batch = JSON.parse(fs.readFileSync(path.join(out, 'comparison.json'), 'utf8'));
    const validate = validator('batch.v1.schema.json');
    expect(validate(batch), JSON.stringify(validate.errors)).toBe(true);
    expect(batch.comparisons).toHaveLength(2);
    expect(batch.comparisons[1].runs.map((x: { run: { prompt: string } }) => x.run.prompt)).toEqual(['Dear {{who|friend}},\nthank you.', 'A note:']);
    const summary = parseCsv(fs.readFileSync(path.join(out, 'comparison.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(summary.map((r) => [r.input, r.run])).toEqual([['1', '1'], ['1', '2'], ['2', '1'], ['2', '2']]);
    expect(Number(summary[2].mean_benefit)).toBe(batch.comparisons[1].runs[0].metrics.summary.meanBenefit);
    const html = fs.readFileSync(path.join(out, 'comparison.html'), 'utf8');
    expect(html).toContain('2 prompts × 2 inputs');
    expect(html).not.toMatch(/<script|(src|href)="https?:/);
  });
});
