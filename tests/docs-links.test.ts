// Every relative link and #anchor in README.md and docs/*.md resolves: to a file in the checkout and, for an anchor,
// to a heading of that file (GitHub's heading ids), so the README's map of the docs cannot quietly rot.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const PAGES = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Markdown without fenced code blocks and inline code, where brackets are not links. */
function prose(md: string): string {
  return md.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading ids: lower case, punctuation dropped (letters, digits, spaces, - and _ kept), spaces to -, repeats numbered. */
export function headingIds(md: string): Set<string> {
  const seen = new Map<string, number>();
  const ids = new Set<string>();
  for (const line of md.replace(/^```[\s\S]*?^```/gm, '').split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const text = m[1].replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n ? `${base}-${n}` : base);
  }
  return ids;
}

function links(md: string): string[] {
  const out: string[] = [];
  for (const m of prose(md).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]);
  for (const m of prose(md).matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)) out.push(m[1]);
  return out;
}

describe('links in README.md and docs/', () => {
  it('finds the pages and their links (the check below is not vacuous)', () => {
    expect(PAGES).toContain('README.md');
    expect(PAGES.length).toBeGreaterThanOrEqual(8);
    expect(links(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).filter((l) => l.startsWith('docs/')).length).toBeGreaterThanOrEqual(8);
  });

  it('computes heading ids the way GitHub does', () => {
    expect([...headingIds('# Scaling out: a worker pool over Redis\n## Recurrent models (RWKV)\n## Hooks\n## Hooks')]).toEqual([
      'scaling-out-a-worker-pool-over-redis',
      'recurrent-models-rwkv',
      'hooks',
      'hooks-1',
    ]);
  });

  for (const page of PAGES) {
    it(`every relative link and anchor in ${page} resolves`, () => {
      const md = fs.readFileSync(path.join(ROOT, page), 'utf8');
      const broken: string[] = [];
      for (const target of links(md)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const resolved = file ? path.resolve(path.dirname(path.join(ROOT, page)), decodeURIComponent(file)) : path.join(ROOT, page);
        if (!resolved.startsWith(ROOT) || !fs.existsSync(resolved)) {
          broken.push(`${target}: no file ${path.relative(ROOT, resolved)}`);
          continue;
        }
        if (anchor !== undefined) {
          if (!resolved.endsWith('.md')) broken.push(`${target}: an anchor into a file that is not Markdown`);
          else if (!headingIds(fs.readFileSync(resolved, 'utf8')).has(anchor)) broken.push(`${target}: no heading #${anchor} in ${path.relative(ROOT, resolved)}`);
        }
      }
      expect(broken).toEqual([]);
    });
  }

  it('every picture in docs/ is taken from the running app by a browser test (npm run docs:screenshots), none by hand', () => {
    const e2e = path.join(ROOT, 'tests/e2e');
    const published = new Set(
      fs
        .readdirSync(e2e)
        .filter((f) => f.endsWith('.ts'))
        .flatMap((f) => [...fs.readFileSync(path.join(e2e, f), 'utf8').matchAll(/publishScreenshot\([^\n]*,\s*'([\w.-]+\.png)'\s*\)/g)].map((m) => m[1])),
    );
    expect(published.size).toBeGreaterThanOrEqual(5);
    const pictures = fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.png'));
    expect(pictures.filter((p) => !published.has(p))).toEqual([]);
  });
});
