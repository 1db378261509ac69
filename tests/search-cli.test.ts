// CLI `search`: a template raced over a bundled set, reports in --out; a search killed mid-race resumes without
// recomputing its stored cells; bad arguments are refused naming the flag.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runSearchCommand, type SearchCliOptions } from '../server/cli-search.js';
import { DEFAULT_MODEL_DIR } from '../server/model/registry.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-search-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
};
const base: Pick<SearchCliOptions, 'field' | 'model' | 'quiet'> = { field: 'text', model: DEFAULT_MODEL_DIR, quiet: true };
const TEMPLATE = 'A {{kind|story||report||letter||poem}} about {{topic|the sea||a city||the war||a family}}:\n';

function storedCells(dataDir: string): { variant: number; input: number; lossWith: number }[] {
  const db = new Database(path.join(dataDir, 'runs.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT variant_idx AS variant, input_idx AS input, loss_with AS lossWith FROM search_cells ORDER BY variant_idx, input_idx`).all() as { variant: number; input: number; lossWith: number }[];
  } catch {
    return [];
  } finally {
    db.close();
  }
}

describe('precache-lens search', () => {
  it('a search killed mid-race resumes: the stored cells stay as they were and are not computed again', async () => {
    const template = file('t.txt', TEMPLATE);
    const out = path.join(tmp, 'resume');
    const dataDir = path.join(out, 'data');
    const args = ['search', '--template', template, '--input-set', 'brown-fiction', '--count', '20', '--first-batch', '2', '--explain-inputs', '0', '--out', out, '-q'];
    const child = spawn(process.execPath, ['bin/precache-lens.mjs', ...args], { stdio: 'ignore' });
    let before: ReturnType<typeof storedCells> = [];
    for (let t = 0; t < 600; t++) {
      await new Promise((r) => setTimeout(r, 200));
      if (fs.existsSync(path.join(dataDir, 'runs.sqlite'))) before = storedCells(dataDir);
      if (before.length >= 32 || child.exitCode !== null) break;
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    before = storedCells(dataDir);
    expect(before.length).toBeGreaterThan(0);
    const log: string[] = [];
    const { detail, computedHere } = await runSearchCommand({ ...base, template, inputSet: 'brown-fiction', count: 20, firstBatch: 2, explainInputs: 0, out }, (s) => log.push(s));
    expect(log[0]).toMatch(/^resuming: search /);
    expect(detail.status).toBe('done');
    const after = storedCells(dataDir);
    expect(computedHere).toBe(after.length - before.length);
    const byKey = new Map(after.map((c) => [`${c.variant}:${c.input}`, c.lossWith]));
    for (const c of before) expect(byKey.get(`${c.variant}:${c.input}`)).toBe(c.lossWith);
    for (const f of ['search.json', 'search.html', 'search-variants.csv', 'search-rounds.csv', 'search-cells.csv']) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    const rep = JSON.parse(fs.readFileSync(path.join(out, 'search.json'), 'utf8')) as { schema: string; variants: unknown[] };
    expect(rep.schema).toBe('precache-lens.search/1');
    expect(rep.variants).toHaveLength(16);

    const again: string[] = [];
    const second = await runSearchCommand({ ...base, template, inputSet: 'brown-fiction', count: 20, firstBatch: 2, explainInputs: 0, out }, (s) => again.push(s));
    expect(again[0]).toMatch(/^already computed: search /);
    expect(second.computedHere).toBe(0);
  }, 300_000);

  it('refuses ambiguous or bad arguments naming the flag', async () => {
    const template = file('t2.txt', TEMPLATE);
    const prompts = file('p.txt', 'a\n---\nb\n');
    const out = path.join(tmp, 'bad');
    await expect(runSearchCommand({ ...base, template, prompts, inputSet: 'brown-press', out })).rejects.toThrow(/one of --template FILE, --prompts FILE or --ablate FILE/);
    await expect(runSearchCommand({ ...base, template, out })).rejects.toThrow(/--inputs FILE or --input-set ID/);
    await expect(runSearchCommand({ ...base, template: file('t3.txt', 'no alternatives'), inputSet: 'brown-press', out })).rejects.toThrow(/^--template: /);
    await expect(runSearchCommand({ ...base, template, inputSet: 'brown-press', budgetCells: 5, out })).rejects.toThrow(/^--budget-cells: .*at least/);
    await expect(runSearchCommand({ ...base, ablate: file('a.txt', 'One sentence only'), inputSet: 'brown-press', out })).rejects.toThrow(/^--ablate: /);
  });
});
