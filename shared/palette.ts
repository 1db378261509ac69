// One palette for the web UI and the HTML reports: colour-blind-safe variant colours with line styles, the benefit
// and read scales with robust limits, and a text colour that keeps WCAG contrast on any cell.

/** Each measured quantity keeps its colour across charts, text and legends. */
export const COLORS = {
  withPrompt: '#0072b2',
  noPrompt: '#94a3b8',
  benefit: '#0072b2',
  attention: '#009e73',
  normWeighted: '#7c3aed',
  sink: '#64748b',
  knockout: '#0072b2',
  knockoutFromLayer1: '#56b4e9',
  selection: '#e69f00',
  selectionFill: 'rgba(230, 159, 0, 0.16)',
  grid: '#e5e7eb',
  axis: '#4b5563',
  text: '#1f2937',
} as const;

/**
 * Variant colours from Okabe & Ito (2008), the first four picked to stay apart under simulated deuteranopia and
 * protanopia (tests/format-palette.test.ts), each with its own line style and marker so variants stay apart in
 * greyscale print too. The first is the reference run. `text` is a darker shade of the same hue for text on white
 * (>= 4.5:1); `color` is for lines, bars and swatches.
 */
export const VARIANT_STYLES = [
  { color: '#0072b2', text: '#0072b2', line: 'solid', dash: null, symbol: 'circle' },
  { color: '#d55e00', text: '#b34700', line: 'dashed', dash: [8, 4], symbol: 'triangle' },
  { color: '#009e73', text: '#00785a', line: 'dotted', dash: [2, 3], symbol: 'rect' },
  { color: '#000000', text: '#000000', line: 'dashdot', dash: [10, 3, 2, 3], symbol: 'diamond' },
  { color: '#e69f00', text: '#8a5d00', line: 'solid', dash: null, symbol: 'pin' },
  { color: '#cc79a7', text: '#a8457f', line: 'dashed', dash: [8, 4], symbol: 'roundRect' },
  { color: '#56b4e9', text: '#1f6f9e', line: 'dotted', dash: [2, 3], symbol: 'arrow' },
] as const;

export type VariantStyle = (typeof VARIANT_STYLES)[number];

export function variantStyle(k: number): VariantStyle {
  return VARIANT_STYLES[k % VARIANT_STYLES.length];
}

export const VARIANT_COLORS: readonly string[] = VARIANT_STYLES.map((s) => s.color);

/** An ECharts line style for variant k (dash arrays work in both the canvas and the SVG renderer). */
export function variantLineStyle(k: number, width = 2.2): { color: string; width: number; type: 'solid' | number[] } {
  const s = variantStyle(k);
  return { color: s.color, width, type: s.dash ? [...s.dash] : 'solid' };
}

/** Sequential ramp for read maps and head grids (white -> violet). */
export const READ_RAMP = ['#ffffff', '#ede9fe', '#c4b5fd', '#8b5cf6', '#5b21b6'];

/** Segment colours in the prompt editor and span bars (by segment index); dark enough for marker text on white. */
export const SEGMENT_COLORS = ['#0072b2', '#b34700', '#00785a', '#a8457f', '#6d28d9', '#0e7490', '#be123c', '#4d7c0f'] as const;

export function segmentColor(k: number): string {
  return SEGMENT_COLORS[k % SEGMENT_COLORS.length];
}

type Rgb = [number, number, number];

function mixRgb(a: Rgb, b: Rgb, t: number): Rgb {
  return a.map((v, i) => Math.round(v + (b[i] - v) * t)) as Rgb;
}

const rgb = (c: Rgb) => `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
const WHITE: Rgb = [255, 255, 255];
const GOOD: Rgb = [0, 90, 181];
const BAD: Rgb = [202, 50, 32];

/**
 * The magnitude that gets the full colour: the q-quantile of |v| (default the 95th percentile), so one extreme token
 * cannot wash out the rest; values beyond it saturate and are marked as clipped. Never below `floor`.
 */
export function robustScale(values: readonly number[], q = 0.95, floor = 0.05): number {
  const a = values.filter(Number.isFinite).map(Math.abs).sort((x, y) => x - y);
  if (a.length === 0) return floor;
  const pos = q * (a.length - 1);
  const lo = Math.floor(pos);
  const v = a[lo] + (a[Math.min(a.length - 1, lo + 1)] - a[lo]) * (pos - lo);
  return Math.max(floor, v);
}

/** Whether |v| is beyond the colour scale's limit (drawn saturated, marked so the reader knows). */
export const isClipped = (v: number, scale: number) => Math.abs(v) > scale * (1 + 1e-9);

function benefitRgb(b: number, scale: number): Rgb {
  const t = Math.min(1, Math.abs(b) / Math.max(scale, 1e-9));
  return mixRgb(WHITE, b >= 0 ? GOOD : BAD, 0.9 * Math.sqrt(t));
}

/** Diverging colour for a benefit in nats: blue where the prompt lowers the loss, red where it raises it. */
export function benefitColor(b: number, scale: number): string {
  return rgb(benefitRgb(b, scale));
}

function luminance(c: Rgb): number {
  const f = (v: number) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
}

/** WCAG contrast ratio of two colours. */
export function contrastRatio(a: Rgb, b: Rgb): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

// Pure black: with it, the better of white and black text reaches at least 4.58:1 on any background (WCAG AA).
const DARK_TEXT: Rgb = [0, 0, 0];

/** White or black, whichever contrasts more with the background. */
export function textOn(bg: Rgb): string {
  return contrastRatio(bg, WHITE) >= contrastRatio(bg, DARK_TEXT) ? '#ffffff' : '#000000';
}

/** Text colour readable on top of benefitColor(b, scale). */
export function benefitTextColor(b: number, scale: number): string {
  return textOn(benefitRgb(b, scale));
}

/** Colour of a read (0..max) on the violet ramp, as used by the HTML report's prompt tokens. */
export function readColor(v: number, max: number): string {
  const t = Math.max(0, Math.min(1, v / Math.max(max, 1e-12)));
  return rgb(mixRgb(WHITE, [91, 33, 182], 0.8 * t));
}

export function readTextColor(v: number, max: number): string {
  const t = Math.max(0, Math.min(1, v / Math.max(max, 1e-12)));
  return textOn(mixRgb(WHITE, [91, 33, 182], 0.8 * t));
}
