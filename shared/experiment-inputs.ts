// Texts of an experiment from a file's contents, shared by the CLI and the web app: `.jsonl` (one object per line,
// a chosen field), `.csv` (a chosen column), anything else as blocks separated by lines holding only `---`.
import { parse as parseCsv } from 'csv-parse/browser/esm/sync';
import { InputError } from './errors.js';

/**
 * Splits text into blocks separated by lines that hold only `---` (spaces around it allowed). The line break before a
 * separator belongs to the separator; one trailing newline at the end is dropped; empty or blank blocks are skipped.
 */
export function splitBlocks(text: string): string[] {
  const lines = text.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n');
  const blocks: string[][] = [[]];
  for (const line of lines) {
    if (/^\s*---\s*$/.test(line)) blocks.push([]);
    else blocks[blocks.length - 1].push(line);
  }
  return blocks.map((b) => b.join('\n')).filter((b) => b.trim() !== '');
}

/** The texts in `raw`, read by the file name's extension; `field` picks the JSONL property or CSV column. */
export function parseTexts(raw: string, fileName: string, field = 'text', flag = 'file'): string[] {
  const ext = /\.[^./\\]+$/.exec(fileName.toLowerCase())?.[0] ?? '';
  let texts: string[];
  if (ext === '.jsonl') {
    texts = [];
    raw.split(/\r?\n/).forEach((line, k) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new InputError(`${fileName} line ${k + 1}: not JSON (${(e as Error).message})`, flag);
      }
      const t = typeof v === 'string' ? v : v && typeof v === 'object' ? (v as Record<string, unknown>)[field] : undefined;
      if (typeof t !== 'string') throw new InputError(`${fileName} line ${k + 1}: has no string field "${field}" (choose another field)`, flag);
      texts.push(t);
    });
  } else if (ext === '.csv') {
    let rows: Record<string, string>[];
    try {
      rows = parseCsv(raw, { columns: true, skip_empty_lines: true, bom: true }) as Record<string, string>[];
    } catch (e) {
      throw new InputError(`${fileName}: not CSV (${(e as Error).message})`, flag);
    }
    if (rows.length && !(field in rows[0])) throw new InputError(`${fileName}: no column "${field}"; columns: ${Object.keys(rows[0]).join(', ')} (choose another field)`, flag);
    texts = rows.map((r) => r[field]);
  } else {
    texts = splitBlocks(raw);
  }
  texts = texts.filter((t) => t.trim() !== '');
  if (!texts.length) throw new InputError(`${fileName} holds no texts${ext === '.jsonl' || ext === '.csv' ? '' : ' (separate texts with lines containing only ---)'}`, flag);
  return texts;
}
