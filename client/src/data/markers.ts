// Splits a raw prompt into plain text, span markers and escapes for the editor's highlighting (lenient: never throws).
import { parseMarkedPrompt } from '@shared/metrics/spans.js';

export type PromptPiece =
  | { kind: 'text'; raw: string; textStart: number }
  | { kind: 'open'; raw: string; name: string | null; segment: number }
  | { kind: 'close'; raw: string; segment: number }
  | { kind: 'escape'; raw: string; textStart: number }
  | { kind: 'inside'; raw: string; segment: number; textStart: number };

/**
 * Pieces of `raw` in order; `textStart` is the offset in the marker-free text, so a span's [charStart, charEnd)
 * from the analysis maps back onto the editor. Follows parseMarkedPrompt's syntax: `{{name|text}}`, `{{text}}`, `\{{`.
 */
export function scanMarkers(raw: string): PromptPiece[] {
  const out: PromptPiece[] = [];
  let textPos = 0;
  let seg = -1;
  let open = false;
  let buf = '';
  let bufStart = 0;
  const flush = () => {
    if (!buf) return;
    out.push(open ? { kind: 'inside', raw: buf, segment: seg, textStart: bufStart } : { kind: 'text', raw: buf, textStart: bufStart });
    buf = '';
  };
  let i = 0;
  while (i < raw.length) {
    if (raw[i] === '\\' && (raw.startsWith('{{', i + 1) || raw.startsWith('}}', i + 1))) {
      flush();
      out.push({ kind: 'escape', raw: raw.slice(i, i + 3), textStart: textPos });
      textPos += 2;
      i += 3;
      bufStart = textPos;
    } else if (raw.startsWith('{{', i) && !open) {
      flush();
      seg += 1;
      open = true;
      let j = i + 2;
      let nameEnd = -1;
      for (; j < raw.length; j++) {
        if (raw[j] === '|') {
          nameEnd = j;
          break;
        }
        if (raw[j] === '\n' || raw.startsWith('{{', j) || raw.startsWith('}}', j) || (raw[j] === '\\' && raw.startsWith('{{', j + 1))) break;
      }
      const end = nameEnd >= 0 ? nameEnd + 1 : i + 2;
      out.push({ kind: 'open', raw: raw.slice(i, end), name: nameEnd >= 0 ? raw.slice(i + 2, nameEnd).trim() : null, segment: seg });
      i = end;
      bufStart = textPos;
    } else if (raw.startsWith('}}', i) && open) {
      flush();
      out.push({ kind: 'close', raw: '}}', segment: seg });
      open = false;
      i += 2;
      bufStart = textPos;
    } else {
      if (!buf) bufStart = textPos;
      buf += raw[i];
      textPos += 1;
      i += 1;
    }
  }
  flush();
  return out;
}

/** The marker error of a prompt (from the shared parser the server uses), or null when it parses. */
export function markerError(raw: string): string | null {
  try {
    parseMarkedPrompt(raw);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

export function segmentCount(raw: string): number {
  try {
    return parseMarkedPrompt(raw).segments.length;
  } catch {
    return 0;
  }
}
