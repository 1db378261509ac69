// SQLite run store: schema version, WAL, restart after a kill, search escaping.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { RunStore, SCHEMA_VERSION } from '../server/store/run-store.js';

const dirs: string[] = [];
function tmp() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-store-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('run store', () => {
  it('creates the schema at the current version in WAL mode', () => {
    const s = new RunStore(tmp());
    expect(s.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    s.close();
  });

  it('marks a run that was running when the process died as failed on restart, keeping finished runs', () => {
    const dir = tmp();
    const a = new RunStore(dir);
    const done = a.create({ modelId: 'm', prompt: 'p', input: 'x', options: {} });
    a.finish(done.id, { modelHash: 'h', result: { ok: 1 }, meanBenefit: 0.5, precomputationShare: 0.25, variants: [{ idx: 0, kind: 'with-prompt', label: 'v', blockedLayers: [], blockedSpan: null, meanLoss: 3 }] });
    const running = a.create({ modelId: 'm', prompt: 'p2', input: 'x', options: {} });
    a.setStatus(running.id, 'running');
    // Simulate a kill: no close(), open a second handle as a restarted process would.
    const b = new RunStore(dir);
    expect(b.get(running.id)!.status).toBe('failed');
    expect(b.get(running.id)!.error).toMatch(/interrupted/);
    const kept = b.getFull(done.id)!;
    expect(kept.status).toBe('done');
    expect(kept.result).toEqual({ ok: 1 });
    expect(kept.variants).toHaveLength(1);
    expect(kept.meanBenefit).toBe(0.5);
    a.close();
    b.close();
  });

  it('refuses a database written by a newer schema version, naming both versions', () => {
    const dir = tmp();
    new RunStore(dir).close();
    const db = new Database(path.join(dir, 'runs.sqlite'));
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    db.close();
    expect(() => new RunStore(dir)).toThrow(new RegExp(`schema version ${SCHEMA_VERSION + 5}`));
  });

  it('search treats % and _ literally', () => {
    const s = new RunStore(tmp());
    s.create({ modelId: 'm', prompt: '100% sure', input: 'x', options: {} });
    s.create({ modelId: 'm', prompt: '100 sure', input: 'x', options: {} });
    expect(s.list({ q: '100%', limit: 10, offset: 0 }).total).toBe(1);
    s.close();
  });
});
