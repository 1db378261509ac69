// One colour scheme for every view: each measured quantity keeps its colour across charts, text and legends.

export const COLORS = {
  withPrompt: '#2563eb',
  noPrompt: '#94a3b8',
  benefit: '#2563eb',
  attention: '#0d9488',
  normWeighted: '#7c3aed',
  sink: '#64748b',
  knockout: '#2563eb',
  knockoutFromLayer1: '#93c5fd',
  selection: '#f59e0b',
  selectionFill: 'rgba(245, 158, 11, 0.16)',
  grid: '#e5e7eb',
  axis: '#6b7280',
  text: '#1f2937',
} as const;

/** Colours of the 2-4 variants in the compare view (the first is the reference run). */
export const VARIANT_COLORS = ['#2563eb', '#db2777', '#059669', '#d97706'] as const;

/** Sequential ramp for read maps and head grids (white -> norm-weighted violet). */
export const READ_RAMP = ['#ffffff', '#ede9fe', '#c4b5fd', '#8b5cf6', '#5b21b6'];

/** Segment colours in the prompt editor and span bars (by segment index). */
export const SEGMENT_COLORS = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#be123c', '#4d7c0f'] as const;

export function segmentColor(k: number): string {
  return SEGMENT_COLORS[k % SEGMENT_COLORS.length];
}

function mix(a: [number, number, number], b: [number, number, number], t: number): string {
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

const WHITE: [number, number, number] = [255, 255, 255];
const GOOD: [number, number, number] = [37, 99, 235];
const BAD: [number, number, number] = [220, 38, 38];

/**
 * Diverging colour for a benefit in nats: blue where the prompt lowers the loss, red where it raises it.
 * `scale` is the magnitude that gets the full colour (larger values saturate).
 */
export function benefitColor(b: number, scale: number): string {
  const t = Math.min(1, Math.abs(b) / Math.max(scale, 1e-9));
  return mix(WHITE, b >= 0 ? GOOD : BAD, 0.85 * Math.sqrt(t));
}

/** Text colour readable on top of benefitColor. */
export function benefitTextColor(b: number, scale: number): string {
  return Math.abs(b) / Math.max(scale, 1e-9) > 0.55 ? '#ffffff' : COLORS.text;
}
