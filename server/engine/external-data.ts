// Weights of rewritten graphs live once per model in the cache, as ONNX external data, not once per hook set.
import fs from 'node:fs';
import path from 'node:path';
import { onnx, type ModelProto, type TensorProto } from './onnx-graph.js';
import { asOutOfSpace, tempPathFor, writeBeside } from '../disk-space.js';

/** Initializers at least this large move to the shared weights file; small ones stay inline. */
const MIN_EXTERNAL_BYTES = 1024;
/** Offsets aligned to a page, so onnxruntime may map the file instead of copying it. */
const ALIGN = 4096;

const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;

function entry(key: string, value: string) {
  return onnx.StringStringEntryProto.create({ key, value });
}

function externalLocation(t: TensorProto): string | null {
  return (t.externalData ?? []).find((e) => e.key === 'location')?.value ?? null;
}

/**
 * Rewrites `model`'s initializers in place so they reference data files inside `cacheDir`:
 * - inline initializers of at least 1 KiB go to `<prefix>.weights` (written once, reused by every hook set, since
 *   surgery never changes the original initializers: same model hash -> same layout);
 * - initializers that were already external (models over 2 GB) keep their file, reached through a hard link in
 *   the cache (a copy across file systems): onnxruntime resolves external data relative to the graph file and
 *   refuses paths, symbolic links included, that lead outside the graph's directory.
 * Only the original model's initializers (those in `originalNames`) are moved; surgery's own small constants stay.
 */
export function externalizeWeights(model: ModelProto, originalNames: ReadonlySet<string>, modelDir: string, cacheDir: string, prefix: string): void {
  const inits = (model.graph?.initializer ?? []).filter((t) => t.name && originalNames.has(t.name));
  const preExternal = inits.filter((t) => t.dataLocation === EXTERNAL);
  const weightsName = `${prefix}.weights`;
  const weightsPath = path.join(cacheDir, weightsName);
  const plan: { t: TensorProto; offset: number; length: number }[] = [];
  let offset = 0;
  for (const t of inits) {
    if (t.dataLocation === EXTERNAL) continue;
    const raw = t.rawData;
    if (!raw || raw.length < MIN_EXTERNAL_BYTES) continue;
    offset = Math.ceil(offset / ALIGN) * ALIGN;
    plan.push({ t, offset, length: raw.length });
    offset += raw.length;
  }
  if (plan.length && !(fs.existsSync(weightsPath) && fs.statSync(weightsPath).size === offset)) {
    // Checked against the free space first; written beside the target and removed if it does not fit after all.
    writeBeside(weightsPath, offset, `the rewritten graph's weights (${weightsName})`, (tmp) => {
      const fd = fs.openSync(tmp, 'w');
      try {
        for (const { t, offset: at } of plan) fs.writeSync(fd, t.rawData!, 0, t.rawData!.length, at);
        if (offset > 0) fs.ftruncateSync(fd, offset);
      } finally {
        fs.closeSync(fd);
      }
    });
  }
  for (const { t, offset: at, length } of plan) {
    t.rawData = new Uint8Array(0);
    t.dataLocation = EXTERNAL;
    t.externalData = [entry('location', weightsName), entry('offset', String(at)), entry('length', String(length))];
  }
  // Already-external tensors: link their files into the cache under a per-model name.
  const links = new Map<string, string>();
  for (const t of preExternal) {
    const loc = externalLocation(t);
    if (!loc) continue;
    let linkName = links.get(loc);
    if (!linkName) {
      linkName = `${prefix}-ext-${links.size}-${path.basename(loc)}`;
      links.set(loc, linkName);
      const linkPath = path.join(cacheDir, linkName);
      const target = path.resolve(modelDir, loc);
      if (!fs.existsSync(target)) throw new Error(`${target}: external data file of initializer "${t.name}" is missing`);
      if (!fs.existsSync(linkPath)) linkOrCopy(target, linkPath);
    }
    t.externalData = (t.externalData ?? []).map((e) => (e.key === 'location' ? entry('location', linkName!) : e));
  }
}


function linkOrCopy(target: string, linkPath: string): void {
  const tmp = tempPathFor(linkPath);
  try {
    try {
      fs.linkSync(target, tmp);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP') throw e;
      fs.copyFileSync(target, tmp);
    }
    fs.renameSync(tmp, linkPath);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw asOutOfSpace(e, path.dirname(linkPath), `a copy of ${path.basename(target)}`, fs.existsSync(target) ? fs.statSync(target).size : 0);
  }
}
