// Test helper: opens models with their tokenizers on a throwaway graph cache, released after the file's tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { HookedModel } from '../../server/engine/hooked-model.js';
import { loadTokenizer } from '../../server/model/tokenizer.js';

export function modelOpener(prefix: string) {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const models: HookedModel[] = [];
  afterAll(async () => {
    for (const m of models) await m.release();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  });
  return {
    cacheDir,
    open(dir: string) {
      const m = HookedModel.load(dir, { cacheDir, threads: 1 });
      models.push(m);
      return { m, tok: loadTokenizer(m.md) };
    },
  };
}
