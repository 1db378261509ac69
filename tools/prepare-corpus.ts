// Builds the training corpus of the bundled models from offline, redistributable text shipped by npm and Debian
// packages: data/corpus/{train.bin, val.bin, val/<source>.bin, inputs/<source>.txt, manifest.json}.
//
//   apt-get install -y bible-kjv bible-kjv-text dict-gcide dict-devil fortunes fortunes-min   # once
//   npx tsx tools/prepare-corpus.ts [--out data/corpus] [--sources sotu,brown,kjv,gcide,devil,fortunes]
//                                   [--cap gcide=6000000] [--max-inputs 200] [--max-mib 48] [--tokenizer DIR]
//
// --tokenizer DIR encodes with DIR/tokenizer.json (through the engine's own tokenizer loader, so the corpus is
// tokenized exactly as the workbench tokenizes) and puts its <|endoftext|> between documents; without it, GPT-2's
// BPE of gpt-3-encoder. The bundled family of issue 21 is built with
//   node tools/make-gpt2-tokenizer.mjs data/tok8k --vocab-size 8192
//   npx tsx tools/prepare-corpus.ts --tokenizer data/tok8k --out data/corpus8k
//
// --cap SOURCE=TOKENS keeps at most TOKENS tokens of that source (a hash-ranked subset of its documents).
// --max-mib fails the build when the token files together exceed it: the GPU run carries data/corpus with the
// working tree (see tools/README-training.md).
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { LOADERS } from './corpus/sources.js';
import fs from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { buildCorpus, type SourcePlan } from './corpus/build.js';

const require = createRequire(import.meta.url);
const { encode } = require('gpt-3-encoder') as { encode: (s: string) => number[] };
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const DEFAULT_SOURCES = ['sotu', 'brown', 'kjv', 'gcide', 'devil', 'fortunes'];
export const DEFAULT_CAPS: Record<string, number> = { gcide: 6_000_000 };

const program = new Command()
  .option('--out <dir>', 'output directory', 'data/corpus')
  .option('--sources <list>', 'comma-separated sources', DEFAULT_SOURCES.join(','))
  .option('--cap <source=tokens...>', 'token cap per source', [])
  .option('--max-inputs <n>', 'experiment inputs per source', '200')
  .option('--max-mib <n>', 'fail when the token files exceed this many MiB', '48')
  .option('--tokenizer <dir>', 'a folder with tokenizer.json (default: GPT-2 BPE of gpt-3-encoder)')
  .parse();
const o = program.opts<{ out: string; sources: string; cap: string[]; maxInputs: string; maxMib: string; tokenizer?: string }>();

let encodeText = encode;
let eot: number | undefined;
let tokenizerName = 'GPT-2 byte-level BPE (gpt-3-encoder vocab/merges); uint16 little-endian ids';
if (o.tokenizer) {
  const file = path.join(path.resolve(o.tokenizer), 'tokenizer.json');
  if (!fs.existsSync(file)) throw new Error(`--tokenizer ${o.tokenizer}: no tokenizer.json there`);
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const tok = new Tokenizer(json, {});
  const id = tok.token_to_id('<|endoftext|>');
  if (typeof id !== 'number') throw new Error(`${file}: no <|endoftext|> token`);
  const size = Object.keys(json.model.vocab).length;
  if (size > 65536) throw new Error(`${file}: ${size} tokens do not fit uint16 ids`);
  eot = id;
  encodeText = (s: string) => (s === '' ? [] : tok.encode(s, { add_special_tokens: false }).ids);
  const sha = (await import('node:crypto')).createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  tokenizerName = `${path.relative(ROOT, file)} (${size} tokens, <|endoftext|> = ${id}, sha256 ${sha}); uint16 little-endian ids`;
}

const caps: Record<string, number> = { ...DEFAULT_CAPS };
for (const c of o.cap) {
  const m = /^([a-z]+)=(\d+)$/.exec(c);
  if (!m) throw new Error(`--cap ${c}: expected SOURCE=TOKENS`);
  caps[m[1]] = Number(m[2]);
}
const names = o.sources.split(',').map((s) => s.trim()).filter(Boolean);
for (const n of names) if (!LOADERS[n]) throw new Error(`--sources: unknown source ${n} (known: ${Object.keys(LOADERS).join(', ')})`);

const t0 = performance.now();
const plans: SourcePlan[] = names.map((n) => {
  const source = LOADERS[n](ROOT);
  console.log(`loaded ${n}: ${source.docs.length} documents (${source.info.origin.package} ${source.info.origin.version})`);
  return { source, maxTokens: caps[n] };
});
const out = path.resolve(o.out);
const manifest = buildCorpus(plans, encodeText, out, {
  maxInputs: Number(o.maxInputs),
  tokenizer: tokenizerName,
  eot,
  log: (s) => console.log(s),
});
const bytes = Object.values(manifest.files).reduce((a, f) => a + f.bytes, 0);
console.log(`train ${manifest.totals.train} tokens, val ${manifest.totals.val} tokens; ${(bytes / 2 ** 20).toFixed(1)} MiB of token files in ${path.relative(ROOT, out)}; ${((performance.now() - t0) / 1000).toFixed(0)} s`);
if (bytes > Number(o.maxMib) * 2 ** 20) {
  console.error(`token files are ${(bytes / 2 ** 20).toFixed(1)} MiB, over --max-mib ${o.maxMib}: lower a --cap`);
  process.exit(1);
}
