// Plain readings of an experiment's statistics (which prompt wins, how sure, whether π is a share), shared by the page and the HTML report.
import type { Interval, PairSummary, PromptSummary } from './experiments.js';
import { PI_MIN_D0, signedNats } from './format.js';

/** An interval as "0.123 [0.010, 0.236]"; 'n/a' when missing. */
export function ciText(x: Interval | null | undefined, digits = 3): string {
  if (!x || !Number.isFinite(x.mean)) return 'n/a';
  return `${x.mean.toFixed(digits)} [${x.lo.toFixed(digits)}, ${x.hi.toFixed(digits)}]`;
}

/** A p-value as text: three decimals, or scientific below 0.001. */
export function pText(p: number): string {
  if (!Number.isFinite(p)) return 'n/a';
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

export type ExperimentPiVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Whether a prompt's π over inputs can be read as a share of its benefit. The same rule as a single run (shared/format
 * piVerdict), over intervals: not when the D(0) interval includes 0 (or D(0) is tiny), and not when mean B is negative.
 */
export function experimentPiVerdict(s: Pick<PromptSummary, 'meanBenefit' | 'depthCurve' | 'precomputationShare'>): ExperimentPiVerdict {
  const d0 = s.depthCurve[0] ?? null;
  if (!s.precomputationShare || !d0) return { ok: false, reason: 'not a share: no finished cells with a depth curve yet.' };
  if (s.meanBenefit && s.meanBenefit.mean < 0) {
    return { ok: false, reason: `not a share: the prompt raises the loss (mean B = ${signedNats(s.meanBenefit.mean)} nats/token), so there is no benefit to share out; read D(1) in nats instead.` };
  }
  if (d0.mean < 0) return { ok: false, reason: `not a share: D(0) = ${signedNats(d0.mean)} nats, the prompt raises the loss on x₂..xₙ; read D(1) in nats instead.` };
  if (d0.lo <= 0 && d0.hi >= 0) {
    return { ok: false, reason: `not a share: the 95% interval of D(0) [${signedNats(d0.lo)}, ${signedNats(d0.hi)}] includes 0, so π divides by a benefit that may be nothing; read D(1) in nats instead.` };
  }
  if (Math.abs(d0.mean) < PI_MIN_D0) return { ok: false, reason: `not a share: D(0) = ${signedNats(d0.mean)} nats is below ${PI_MIN_D0} in size, so π is a ratio of noise.` };
  return { ok: true };
}

/** Prompt summaries of one model, best mean B first (no finished cells last). */
export function rankPrompts<T extends Pick<PromptSummary, 'meanBenefit' | 'prompt'>>(rows: readonly T[]): T[] {
  return [...rows].sort((x, y) => (y.meanBenefit?.mean ?? -Infinity) - (x.meanBenefit?.mean ?? -Infinity) || x.prompt - y.prompt);
}

export interface PairReading {
  /** 'a' or 'b' lowers the loss more, after Holm's correction; null when no difference is shown. */
  winner: 'a' | 'b' | null;
  sentence: string;
}

/**
 * One sentence for a pair: the paired mean difference of B with its interval, read at the level's alpha with the
 * Holm-adjusted p (m = the number of pairs of that model's family). B is the loss the prompt removes, so a positive
 * mean(B_a − B_b) means a lowers the loss more.
 */
export function pairReading(pair: Pick<PairSummary, 'n' | 'meanBenefitDiff'>, labelA: string, labelB: string, comparisons: number, level = 0.95): PairReading {
  const x = pair.meanBenefitDiff;
  if (!x) return { winner: null, sentence: `${labelA} vs ${labelB}: no inputs where both finished yet.` };
  const alpha = 1 - level;
  const [hi, lo, diff, ci] = x.mean >= 0 ? [labelA, labelB, x.mean, [x.lo, x.hi]] : [labelB, labelA, -x.mean, [-x.hi, -x.lo]];
  const size = `${diff.toFixed(3)} nats/token [${ci[0].toFixed(3)}, ${ci[1].toFixed(3)}]`;
  const corr = comparisons > 1 ? `Holm's correction for ${comparisons} comparisons` : 'Holm\'s correction (1 comparison, p unchanged)';
  if (x.pHolm < alpha) {
    return { winner: x.mean >= 0 ? 'a' : 'b', sentence: `${hi} lowers the loss more than ${lo} by ${size}; this holds after ${corr} (p = ${pText(x.pHolm)}, n = ${pair.n} inputs).` };
  }
  if (x.p < alpha) {
    return {
      winner: null,
      sentence: `No difference shown between ${labelA} and ${labelB}: ${hi} looks better by ${size} (p = ${pText(x.p)}), but that is not shown after ${corr} (p = ${pText(x.pHolm)}, n = ${pair.n} inputs).`,
    };
  }
  return { winner: null, sentence: `No difference shown between ${labelA} and ${labelB}: ${hi} − ${lo} = ${size}, p = ${pText(x.p)} (after ${corr}: ${pText(x.pHolm)}, n = ${pair.n} inputs).` };
}

/** Tick values for an axis over [lo, hi]: 1, 2 or 5 times a power of ten, about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw * 0.75) ?? 10 * pow;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return out;
}

/** Whether an experiment's two models are a model and its myopic twin (`<m>-myopic`); only then is "myopic" the right word. */
export function areTwinModels(models: readonly string[]): boolean {
  return models.length === 2 && models[1] === `${models[0]}-myopic`;
}

/** How the page and the report name the comparison of an experiment's two models: twins, or two models on one tokenizer. */
export function secondModelWords(models: readonly string[]) {
  const [a, b] = models;
  if (areTwinModels(models)) {
    return {
      models: `${a} and its myopic twin ${b}`,
      title: 'Myopic twin',
      note: "Myopia gap: mean loss of the myopic twin minus the model's, on the same inputs (paired), with and without the prompt.",
      gapWith: 'gap with prompt',
      gapWithout: 'gap without',
      piDiff: 'π(myopic) − π(model)',
    };
  }
  return {
    models: models.join(' and '),
    title: b ? `Second model: ${b}` : 'Second model',
    note: `Loss gap: mean loss of ${b} minus ${a}'s, on the same inputs (paired), with and without the prompt.`,
    gapWith: 'gap with prompt',
    gapWithout: 'gap without',
    piDiff: `π(${b}) − π(${a})`,
  };
}
