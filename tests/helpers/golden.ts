// Test helpers: read fixture goldens and compare engine tensors with them.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../../server/engine/hooked-model.js';
import { DEFAULT_MODEL_DIR } from '../../server/model/registry.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const FIXTURES = path.resolve(HERE, '../fixtures/models');
/** The bundled default model's directory (server/model/registry.ts). */
export const DEFAULT_MODEL = DEFAULT_MODEL_DIR;

export type Nested = number | Nested[];
export interface Golden {
  input_ids: number[];
  position_ids: number[];
  resid_pre: Nested[];
  resid_mid?: Nested[];
  resid_post: Nested[];
  attn_out?: Nested[];
  pattern: Nested[];
  v?: Nested[];
  value_norm?: Nested[];
  ln_final: Nested;
  logits: Nested;
}

export function readGolden(dir: string): Golden {
  return JSON.parse(fs.readFileSync(path.join(dir, 'golden.json'), 'utf8')) as Golden;
}

export function flatten(x: Nested): number[] {
  return Array.isArray(x) ? x.flatMap(flatten) : [x];
}

export function shapeOf(x: Nested): number[] {
  const dims: number[] = [];
  let cur: Nested = x;
  while (Array.isArray(cur)) {
    dims.push(cur.length);
    cur = cur[0];
  }
  return dims;
}

/** Max |a-b| between an engine tensor (batch dim of 1 dropped) and a golden nested array of the same shape. */
export function maxAbsDiff(t: Tensor, golden: Nested): number {
  const want = shapeOf(golden);
  const got = t.dims[0] === 1 ? t.dims.slice(1) : t.dims;
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`shape ${JSON.stringify(got)} != golden ${JSON.stringify(want)}`);
  const g = flatten(golden);
  let m = 0;
  for (let i = 0; i < g.length; i++) m = Math.max(m, Math.abs(t.data[i] - g[i]));
  return m;
}
