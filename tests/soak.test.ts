// `npm run soak -- --minutes 1`: a minute of mixed traffic against a server of its own ends with zero errors, the
// server stopped cleanly, and an RSS series printed. (Counts and memory are reported, never asserted as timings.)
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-soak-test-'));
// The soak (npm, the soak script and the server it starts) runs in its own process group: whatever the test does,
// the whole group goes at the end.
let soak: ChildProcess | null = null;
afterAll(() => {
  if (soak?.pid && soak.exitCode === null && soak.signalCode === null) {
    try {
      process.kill(-soak.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  fs.rmSync(TMP, { recursive: true, force: true });
});

interface Summary {
  operations: Record<string, number>;
  sseStreams: number;
  totalErrors: number;
  errorSamples: string[];
  rss: { atS: number; rssMiB: number | null }[];
}

describe('npm run soak', () => {
  it('drives a minute of mixed traffic with zero errors and prints the RSS series', async () => {
    const out = path.join(TMP, 'soak.json');
    let log = '';
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn('npm', ['run', 'soak', '--', '--minutes', '1', '--clients', '3', '--sample-s', '15', '--json', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      soak = p;
      p.stdout.on('data', (b: Buffer) => (log += b.toString()));
      p.stderr.on('data', (b: Buffer) => (log += b.toString()));
      p.on('exit', (c) => resolve(c));
    });
    expect(code, log).toBe(0);
    const s = JSON.parse(fs.readFileSync(out, 'utf8')) as Summary;
    expect(s.errorSamples).toEqual([]);
    expect(s.totalErrors).toBe(0);
    // Every kind of traffic ran at least once: runs with their streams and reports, experiments, reads, bad requests.
    for (const kind of ['run.create', 'run.events', 'report.html', 'health', 'history', 'bad.json', 'bad.field']) expect(s.operations[kind], kind).toBeGreaterThan(0);
    expect(s.sseStreams).toBeGreaterThan(0);
    expect(s.rss.length).toBeGreaterThanOrEqual(2);
    expect(s.rss.every((x) => x.rssMiB === null || x.rssMiB > 0)).toBe(true);
    expect(log).toMatch(/server RSS \(MiB\) every 15 s: /);
  }, 300_000);
});
