// Reads an experiment's texts from a file: `.jsonl` (one object per line, a chosen field), `.csv` (a chosen column),
// anything else as blocks separated by lines holding only `---` (the batch format).
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { InputError } from '../../shared/errors.js';
import { splitBlocks } from '../report/batch.js';

/** The texts of `file`; `field` picks the JSONL property or CSV column (default "text"). Errors name the file and line. */
export function readTextsFile(file: string, flag: string, field = 'text'): string[] {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    throw new InputError(`cannot read ${file}`, flag);
  }
  const ext = path.extname(file).toLowerCase();
  let texts: string[];
  if (ext === '.jsonl') {
    texts = [];
    raw.split(/\r?\n/).forEach((line, k) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new InputError(`${file} line ${k + 1}: not JSON (${(e as Error).message})`, flag);
      }
      const t = typeof v === 'string' ? v : v && typeof v === 'object' ? (v as Record<string, unknown>)[field] : undefined;
      if (typeof t !== 'string') throw new InputError(`${file} line ${k + 1}: has no string field "${field}" (choose one with --field)`, flag);
      texts.push(t);
    });
  } else if (ext === '.csv') {
    let rows: Record<string, string>[];
    try {
      rows = parseCsv(raw, { columns: true, skip_empty_lines: true, bom: true }) as Record<string, string>[];
    } catch (e) {
      throw new InputError(`${file}: not CSV (${(e as Error).message})`, flag);
    }
    if (rows.length && !(field in rows[0])) throw new InputError(`${file}: no column "${field}"; columns: ${Object.keys(rows[0]).join(', ')} (choose one with --field)`, flag);
    texts = rows.map((r) => r[field]);
  } else {
    texts = splitBlocks(raw);
  }
  texts = texts.filter((t) => t.trim() !== '');
  if (!texts.length) throw new InputError(`${file} holds no texts${ext === '.jsonl' || ext === '.csv' ? '' : ' (separate texts with lines containing only ---)'}`, flag);
  return texts;
}
