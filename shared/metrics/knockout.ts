// Knockout arithmetic: K(S), the depth curve D(k) = K({k..L-1}), precomputation share pi = D(1)/D(0), layer windows.
import { mean } from './tensor.js';

/** K = mean over X of (loss with edges blocked - loss with edges open): positive where blocking hurts. */
export function meanLossIncrease(lossBlocked: readonly number[], lossOpen: readonly number[]): number {
  if (lossBlocked.length !== lossOpen.length) {
    throw new RangeError(`meanLossIncrease: ${lossBlocked.length} blocked losses vs ${lossOpen.length} open losses`);
  }
  return mean(lossBlocked.map((l, k) => l - lossOpen[k]));
}

/** The knockout sets of the depth curve: entry k is {k..L-1}, for k = 0..L-1 (k = L is the empty set, no run). */
export function depthLayerSets(nLayers: number): number[][] {
  checkLayerCount(nLayers, 'depthLayerSets');
  return Array.from({ length: nLayers }, (_, k) => Array.from({ length: nLayers - k }, (_, m) => k + m));
}

/**
 * Depth curve D(k) = K({k..L-1}) for k = 0..L, from the losses of runs that block X->P' from layer k up
 * (lossesByStartLayer[k], k = 0..L-1). D(L) is exactly 0: blocking no layer is the open run itself, so it is
 * set rather than computed (no float noise from a second run).
 */
export function depthCurveFromLosses(lossesByStartLayer: readonly (readonly number[])[], lossOpen: readonly number[]): number[] {
  const curve = lossesByStartLayer.map((blocked, k) => {
    if (blocked.length !== lossOpen.length) {
      throw new RangeError(`depthCurveFromLosses: start layer ${k} has ${blocked.length} losses vs ${lossOpen.length} open losses`);
    }
    return meanLossIncrease(blocked, lossOpen);
  });
  curve.push(0);
  return curve;
}

/**
 * pi = D(1)/D(0): the part of the prompt's benefit that needs computation at the prompt's own columns rather than
 * its raw tokens (layer 0 left open). Null when |D(0)| < minBenefit: a prompt with no benefit has no share to split.
 * Not clamped to [0,1], because values outside are findings: pi > 1 means cutting the prompt's later layers hurts
 * more than removing the prompt (the half-read prompt misleads the model); pi < 0 means the prompt's later-layer
 * computation hurts the input. With D(0) < 0 (a prompt that hurts), pi is the share of that harm.
 */
export function precomputationShare(depth: readonly number[], minBenefit = 1e-9): number | null {
  if (depth.length < 2) throw new RangeError(`precomputationShare: depth curve has ${depth.length} points, needs D(0) and D(1)`);
  if (Math.abs(depth[0]) < minBenefit) return null;
  return depth[1] / depth[0];
}

/** For each layer l, the window [max(0,l-r) .. min(L-1,l+r)] of layers to block together (Geva-style profile). */
export function layerWindows(nLayers: number, radius: number): number[][] {
  checkLayerCount(nLayers, 'layerWindows');
  if (!Number.isInteger(radius) || radius < 0) throw new RangeError(`layerWindows: radius must be an integer >= 0, got ${radius}`);
  return Array.from({ length: nLayers }, (_, l) => {
    const lo = Math.max(0, l - radius);
    const hi = Math.min(nLayers - 1, l + radius);
    return Array.from({ length: hi - lo + 1 }, (_, m) => lo + m);
  });
}

function checkLayerCount(nLayers: number, where: string): void {
  if (!Number.isInteger(nLayers) || nLayers < 0) throw new RangeError(`${where}: layer count must be an integer >= 0, got ${nLayers}`);
}
