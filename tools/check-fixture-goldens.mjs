#!/usr/bin/env node
// Cross-checks the committed fixture graphs against their golden.json with onnxruntime-node (independent of
// the project's engine): full-sequence logits for every gpt2-* fixture, and for the past-key-values fixture
// also a split run (prefix with empty past, then the rest fed the prefix's present.* as past_key_values.*).
//
//   node tools/check-fixture-goldens.mjs [tests/fixtures/models]
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";

const root = process.argv[2] ?? "tests/fixtures/models";
const GRAPHS = ["onnx/decoder_model.onnx", "onnx/model.onnx", "model.onnx"];
const i64 = (a, dims) => new ort.Tensor("int64", BigInt64Array.from(a.map(BigInt)), dims);

function maxDiff(data, want, offsetRow = 0) {
  const vocab = want[0].length;
  let m = 0;
  for (let t = 0; t < data.length / vocab; t++)
    for (let v = 0; v < vocab; v++) m = Math.max(m, Math.abs(data[t * vocab + v] - want[offsetRow + t][v]));
  return m;
}

async function run(sess, g, ids, pos, past, pastLen) {
  const feeds = {
    input_ids: i64(ids, [1, ids.length]),
    attention_mask: i64(new Array(pastLen + ids.length).fill(1), [1, pastLen + ids.length]),
    position_ids: i64(pos, [1, pos.length]),
  };
  const dh = g.d_model / g.n_head;
  for (let i = 0; i < g.n_layer; i++)
    for (const kind of ["key", "value"]) {
      const name = `past_key_values.${i}.${kind}`;
      if (sess.inputNames.includes(name))
        feeds[name] = past?.[`present.${i}.${kind}`] ?? new ort.Tensor("float32", new Float32Array(0), [1, g.n_head, 0, dh]);
    }
  return sess.run(feeds);
}

let failed = false;
for (const name of readdirSync(root).sort()) {
  const dir = join(root, name);
  if (!existsSync(join(dir, "golden.json"))) continue;
  const g = JSON.parse(readFileSync(join(dir, "golden.json"), "utf8"));
  const graph = GRAPHS.find((p) => existsSync(join(dir, p)));
  const sess = await ort.InferenceSession.create(join(dir, graph));
  const T = g.input_ids.length;
  const full = await run(sess, g, g.input_ids, g.position_ids, null, 0);
  const msgs = [`full max|diff| ${maxDiff(full.logits.data, g.logits).toExponential(2)}`];
  let worst = maxDiff(full.logits.data, g.logits);
  if (sess.inputNames.includes("past_key_values.0.key")) {
    const k = 6;
    const a = await run(sess, g, g.input_ids.slice(0, k), g.position_ids.slice(0, k), null, 0);
    const b = await run(sess, g, g.input_ids.slice(k), g.position_ids.slice(k), a, k);
    const d = Math.max(maxDiff(a.logits.data, g.logits, 0), maxDiff(b.logits.data, g.logits, k));
    worst = Math.max(worst, d);
    msgs.push(`split ${k}+${T - k} with past max|diff| ${d.toExponential(2)}, present.0.key dims [${b["present.0.key"].dims}]`);
  }
  const ok = worst < 1e-4;
  failed ||= !ok;
  console.log(`${ok ? "ok  " : "FAIL"} ${name} (${graph}): ${msgs.join("; ")}`);
}
process.exit(failed ? 1 : 0);
