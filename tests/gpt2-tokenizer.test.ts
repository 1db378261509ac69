// scripts/gpt2-tokenizer.ts: the full GPT-2 tokenizer folder generated on demand into a cache (safe when several
// processes ask at once), and scripts/make-random-gpt2.ts taking its vocab size and bos/eos ids from a tokenizer
// folder without a config.json (the generated one by default).
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { fullGpt2TokenizerDir } from '../scripts/gpt2-tokenizer.js';
import { resolveOptions, tokenizerIds, writeRandomGpt2 } from '../scripts/make-random-gpt2.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-gpt2-tokenizer-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8');

describe('fullGpt2TokenizerDir', () => {
  it('two processes generating into an empty cache at once both get the same complete folder, and no temporary folder is left', async () => {
    const root = path.join(tmp, 'race');
    const code = `import(${JSON.stringify(path.join(ROOT, 'scripts/gpt2-tokenizer.ts'))}).then((m) => console.log(m.fullGpt2TokenizerDir(process.argv[1])))`;
    const run = () => promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', code, root], { cwd: ROOT });
    const [a, b] = await Promise.all([run(), run()]);
    const dir = a.stdout.trim();
    expect(b.stdout.trim()).toBe(dir);
    expect(fs.readdirSync(root)).toEqual([path.basename(dir)]);
    expect(fs.readdirSync(dir).sort()).toEqual(['tokenizer.json', 'tokenizer_config.json']);
    const repoCache = fullGpt2TokenizerDir();
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) expect(read(dir, f)).toBe(read(repoCache, f));
  }, 60_000);

  it('regenerates a folder that lost a file', () => {
    const root = path.join(tmp, 'repair');
    const dir = fullGpt2TokenizerDir(root);
    fs.rmSync(path.join(dir, 'tokenizer.json'));
    expect(fullGpt2TokenizerDir(root)).toBe(dir);
    expect(read(dir, 'tokenizer.json')).toBe(read(fullGpt2TokenizerDir(), 'tokenizer.json'));
  }, 30_000);
});

describe('make-random-gpt2 on a tokenizer folder without config.json', () => {
  it('defaults to the generated full GPT-2 tokenizer: vocab 50257, bos = eos = 50256', () => {
    const r = resolveOptions({ out: path.join(tmp, 'unused') });
    expect(r.tokenizerFrom).toBe(fullGpt2TokenizerDir());
    expect(fs.existsSync(path.join(r.tokenizerFrom, 'config.json'))).toBe(false);
    expect(r).toMatchObject({ vocabSize: 50257, bosTokenId: 50256, eosTokenId: 50256 });
  });

  it('reads a cut tokenizer (--vocab-size 8192) as vocab 8192 with <|endoftext|> = 8191, and copies its files', () => {
    const cut = path.join(tmp, 'cut');
    execFileSync(process.execPath, [path.join(ROOT, 'tools/make-gpt2-tokenizer.mjs'), cut, '--vocab-size', '8192'], { stdio: 'pipe' });
    expect(tokenizerIds(cut)).toEqual({ vocabSize: 8192, bosTokenId: 8191, eosTokenId: 8191 });
    const out = path.join(tmp, 'cut-model');
    writeRandomGpt2({ out, nLayer: 1, nHead: 1, dModel: 8, nCtx: 16, tokenizerFrom: cut });
    expect(JSON.parse(read(out, 'config.json'))).toMatchObject({ vocab_size: 8192, bos_token_id: 8191, eos_token_id: 8191 });
    expect(read(out, 'tokenizer.json')).toBe(read(cut, 'tokenizer.json'));
    expect(JSON.parse(read(out, 'tokenizer_config.json')).model_max_length).toBe(16);
  }, 30_000);

  it('rejects a tokenizer folder whose bos_token is not a token, or that lacks tokenizer_config.json', () => {
    const bad = path.join(tmp, 'bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [] }, added_tokens: [] }));
    expect(() => resolveOptions({ out: path.join(tmp, 'unused'), tokenizerFrom: bad })).toThrow(/tokenizer_config\.json: missing/);
    fs.writeFileSync(path.join(bad, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>' }));
    expect(() => resolveOptions({ out: path.join(tmp, 'unused'), tokenizerFrom: bad })).toThrow(/bos_token "<s>" is not a token of tokenizer\.json/);
    fs.writeFileSync(path.join(bad, 'tokenizer_config.json'), JSON.stringify({}));
    expect(() => resolveOptions({ out: path.join(tmp, 'unused'), tokenizerFrom: bad })).toThrow(/no bos token id/);
  });
});
