// Checks that the engine's hooks on an exported model equal the PyTorch reference (tools/py/model_golden.py) to 1e-4,
// for every hook that has a reference: residual stream (pre, mid, post), attention pattern, values, value norms,
// final norm and logits. Exits 1 naming the worst hook when one differs by more.
//
//   npx tsx tools/check-model-hooks.ts <model dir> <golden.json> [--tol 1e-4]
import { HookedModel } from '../server/engine/hooked-model.js';
import { allHookNames } from '../shared/hooks.js';
import fs from 'node:fs';
import { maxAbsDiff, type Golden, type Nested } from '../tests/helpers/golden.js';

const KEY: Record<string, keyof Golden> = {
  hook_resid_pre: 'resid_pre',
  hook_resid_mid: 'resid_mid',
  hook_resid_post: 'resid_post',
  'attn.hook_pattern': 'pattern',
  'attn.hook_v': 'v',
  'attn.hook_value_norm': 'value_norm',
};

function reference(g: Golden, hook: string): Nested | undefined {
  if (hook === 'logits') return g.logits;
  if (hook === 'ln_final.hook_normalized') return g.ln_final;
  const m = /^blocks\.(\d+)\.(.*)$/.exec(hook);
  const key = m ? KEY[m[2]] : undefined;
  const per = key ? (g[key] as Nested[] | undefined) : undefined;
  return per && m ? per[Number(m[1])] : undefined;
}

async function main() {
  const [dir, file, ...rest] = process.argv.slice(2);
  if (!dir || !file) throw new Error('usage: npx tsx tools/check-model-hooks.ts <model dir> <golden.json> [--tol 1e-4]');
  const tol = rest[0] === '--tol' ? Number(rest[1]) : 1e-4;
  const g = JSON.parse(fs.readFileSync(file, 'utf8')) as Golden;
  const model = HookedModel.load(dir, { threads: 2 });
  const hooks = allHookNames(model.config.nLayer);
  const r = await model.run({ tokens: [g.input_ids], positionIds: [g.position_ids], hooks });
  let worst = { hook: '', diff: 0 };
  let compared = 0;
  const byKind = new Map<string, number>();
  for (const [hook, t] of r.cache) {
    const ref = reference(g, hook);
    if (ref === undefined) continue;
    const d = maxAbsDiff(t, ref);
    compared++;
    const kind = hook.replace(/^blocks\.\d+\./, 'blocks.*.');
    byKind.set(kind, Math.max(byKind.get(kind) ?? 0, d));
    if (d > worst.diff) worst = { hook, diff: d };
  }
  await model.release();
  for (const [kind, d] of byKind) console.log(`${kind.padEnd(32)} max |engine - torch| ${d.toExponential(2)}`);
  console.log(`${compared} hooks compared; worst ${worst.hook} ${worst.diff.toExponential(2)} (tolerance ${tol})`);
  if (compared < 4 * model.config.nLayer + 2) throw new Error(`only ${compared} hooks had a reference`);
  if (worst.diff > tol) {
    console.error(`FAIL: ${worst.hook} differs by ${worst.diff} > ${tol}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
