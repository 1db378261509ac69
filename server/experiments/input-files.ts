// Reads an experiment's texts from a file for the CLI (formats: shared/experiment-inputs.ts).
import fs from 'node:fs';
import { InputError } from '../../shared/errors.js';
import { parseTexts } from '../../shared/experiment-inputs.js';

/** The texts of `file`; `field` picks the JSONL property or CSV column (default "text"). Errors name the file and line. */
export function readTextsFile(file: string, flag: string, field = 'text'): string[] {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    throw new InputError(`cannot read ${file}`, flag);
  }
  return parseTexts(raw, file, field, flag);
}
