// Writes tests/fixtures/val-slice.bin: the first 4097 tokens (uint16 LE GPT-2 ids) of the held-out split, built by
// tools/prepare-corpus.ts (data/corpus/val.bin) or, before it, tools/prepare-data.mjs (data/val.bin): both start with
// the same State of the Union documents, so the slice is the same (tests/default-model.test.ts rebuilds it). 4097 = 16 windows of 256 plus one: every token after the first is predicted
// exactly once (see nextTokenWindows in scripts/lib/lm-eval.ts). The slice starts with <|endoftext|> (50256) and
// George Washington's 1793 annual message (public domain).
//
//   npx tsx scripts/make-val-slice.ts [data/corpus/val.bin] [tests/fixtures/val-slice.bin]
import fs from 'node:fs';
import path from 'node:path';

export const SLICE_TOKENS = 4096 + 1;
const src = process.argv[2] ?? (fs.existsSync('data/corpus/val.bin') ? 'data/corpus/val.bin' : 'data/val.bin');
const dst = process.argv[3] ?? 'tests/fixtures/val-slice.bin';
const buf = fs.readFileSync(src);
if (buf.length < 2 * SLICE_TOKENS) throw new Error(`${src}: only ${buf.length / 2} tokens, need ${SLICE_TOKENS}`);
fs.mkdirSync(path.dirname(dst), { recursive: true });
fs.writeFileSync(dst, buf.subarray(0, 2 * SLICE_TOKENS));
console.log(`wrote ${dst}: ${SLICE_TOKENS} tokens from the start of ${src}`);
