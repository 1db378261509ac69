// A run read in plain words (the sentence under its title, notes on odd curves, what to try next), shared by the web
// app and anything else that wants to say what a run found; pure functions over the run's numbers.
import { piVerdict, signedNats } from './format.js';

/** Below this |B| (nats/token) the prompt barely changes the loss: the same bar as π's "ratio of noise". */
export const SMALL_BENEFIT = 0.02;

export interface RunReadingInput {
  model: string;
  meanBenefit: number;
  meanLossNoPrompt: number;
  /** Absent until the depth stage has arrived. */
  depth?: { depthCurve: readonly number[]; precomputationShare: number | null };
}

/**
 * One sentence: how much the prompt changes the loss, as nats/token and as a share of the loss without it, and (once
 * the depth stage is in, and only where π is a share) how much of that needs computation at the prompt's columns.
 */
export function runSummary(r: RunReadingInput): string {
  const b = r.meanBenefit;
  const rel = r.meanLossNoPrompt > 0 ? ` (${Math.round((Math.abs(b) / r.meanLossNoPrompt) * 100)} % of its loss without the prompt)` : '';
  if (!Number.isFinite(b)) return `The prompt's effect on ${r.model}'s loss is not known.`;
  if (Math.abs(b) < SMALL_BENEFIT) return `The prompt barely changes ${r.model}'s loss on the input (${signedNats(b)} nats/token).`;
  const head = b > 0 ? `The prompt lowers ${r.model}'s loss on the input by ${b.toFixed(2)} nats/token${rel}` : `The prompt raises ${r.model}'s loss on the input by ${(-b).toFixed(2)} nats/token${rel}`;
  if (!r.depth || b <= 0) return `${head}.`;
  const pi = r.depth.precomputationShare;
  if (!piVerdict(r.depth.depthCurve[0], pi).ok || pi === null) return `${head}; how much of it needs the prompt's own computation cannot be read here (π is no share).`;
  return `${head}; ${Math.round(pi * 100)} % of the benefit from the second input token on needs computation done at the prompt's columns (π).`;
}

/** Layers k ≥ 1 where D(k) is below −SMALL_BENEFIT, as runs "3–6, 8". */
export function negativeDepthLayers(depthCurve: readonly number[]): number[] {
  const out: number[] = [];
  for (let k = 1; k < depthCurve.length - 1; k++) if (depthCurve[k] < -SMALL_BENEFIT) out.push(k);
  return out;
}

function runs(ks: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ks.length; ) {
    let j = i;
    while (j + 1 < ks.length && ks[j + 1] === ks[j] + 1) j++;
    parts.push(j > i ? `${ks[i]}–${ks[j]}` : `${ks[i]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/** A note when D(k) goes negative: blocking the prompt from those layers up helps, so the late reads hurt. */
export function negativeDepthNote(depthCurve: readonly number[]): string | null {
  const ks = negativeDepthLayers(depthCurve);
  if (!ks.length) return null;
  const worst = Math.min(...ks.map((k) => depthCurve[k]));
  return (
    `D(k) is below 0 at k = ${runs(ks)} (down to ${signedNats(worst)} nats): blocking the input's reads of the prompt from ` +
    `${ks.length > 1 ? 'those layers' : 'that layer'} up lowers the loss, so what the input reads from the prompt's columns there hurts its predictions more than it helps.`
  );
}

export interface SpanForSuggestion {
  label: string;
  kAllLayers: number;
}

/** One thing to try next: drop the least important span of a prompt with several, else test the prompt on many inputs. */
export function nextStep(spans: readonly SpanForSuggestion[]): { kind: 'drop-span'; span: string; k: number; text: string } | { kind: 'experiment'; text: string } {
  const top = spans.filter((s) => Number.isFinite(s.kAllLayers));
  if (top.length >= 2) {
    const least = top.reduce((a, s) => (s.kAllLayers < a.kAllLayers ? s : a));
    return {
      kind: 'drop-span',
      span: least.label,
      k: least.kAllLayers,
      text: `Try next: fork this run and drop “${least.label}”, the span the input needs least (hiding it changes the loss by ${signedNats(least.kAllLayers)} nats/token), and compare the two.`,
    };
  }
  return { kind: 'experiment', text: 'Try next: run this prompt as an experiment on an input set, to see whether what it does here holds over many inputs.' };
}
