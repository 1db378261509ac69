import { HookedModel } from '../server/engine/hooked-model.ts';
import { readGolden, maxAbsDiff } from '../tests/helpers/golden.ts';
import { allHookNames } from '../shared/hooks.ts';
for (const f of process.argv.slice(2)) {
  const dir = `tests/fixtures/models/${f}`;
  const m = HookedModel.load(dir, { cacheDir: '/tmp/pl-cache' });
  const s = m.analyze();
  console.log(f, 'layers', s.layers.length, 'problem', s.attentionProblem, s.layers.map((l) => [l.residPre, l.residMid, l.residPost, l.parallel, l.wO?.tensor]));
  const g = readGolden(dir);
  const hooks = allHookNames(m.config.nLayer);
  const r = await m.run({ tokens: [g.input_ids], positionIds: [g.position_ids], hooks });
  for (const [k, t] of r.cache) {
    const mm = /^blocks\.(\d+)\.(.*)$/.exec(k);
    let ref: any;
    if (mm) {
      const l = Number(mm[1]); const kind = mm[2];
      const key = { hook_resid_pre: 'resid_pre', hook_resid_mid: 'resid_mid', hook_resid_post: 'resid_post', 'attn.hook_pattern': 'pattern', 'attn.hook_v': 'v', 'attn.hook_value_norm': 'value_norm' }[kind]!;
      ref = (g as any)[key]?.[l];
    } else ref = k === 'logits' ? g.logits : g.ln_final;
    console.log(' ', k, t.dims.join('x'), ref ? maxAbsDiff(t, ref).toExponential(2) : 'no golden');
  }
}
