// The shared number format and palette: when π may be read as a share, robust colour limits, text contrast on every
// colour of the scales, and variant colours that stay apart under simulated colour-vision deficiencies.
import { describe, expect, it } from 'vitest';
import { pct, piVerdict, signedNats } from '../shared/format.js';
import { benefitColor, benefitTextColor, contrastRatio, isClipped, readColor, readTextColor, robustScale, VARIANT_STYLES } from '../shared/palette.js';

type Rgb = [number, number, number];
const parse = (c: string): Rgb => {
  const m = /^rgb\((\d+), (\d+), (\d+)\)$/.exec(c);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])];
  const h = /^#([0-9a-f]{6})$/i.exec(c)!;
  return [0, 2, 4].map((i) => parseInt(h[1].slice(i, i + 2), 16)) as Rgb;
};

const lin = (v: number) => {
  const s = v / 255;
  return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
};
const gam = (v: number) => 255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);

// Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB.
const DEUTAN = [
  [0.367322, 0.860646, -0.227968],
  [0.280085, 0.672501, 0.047413],
  [-0.01182, 0.04294, 0.968881],
];
const PROTAN = [
  [0.152286, 1.052583, -0.204868],
  [0.114503, 0.786281, 0.099216],
  [-0.003882, -0.048116, 1.051998],
];
const simulate = (c: Rgb, m: number[][]): Rgb => {
  const l = c.map(lin);
  return m.map((row) => gam(Math.min(1, Math.max(0, row[0] * l[0] + row[1] * l[1] + row[2] * l[2])))) as Rgb;
};

/** CIE Lab (D65) of an sRGB colour, for a colour difference people perceive (ΔE76). */
function lab(c: Rgb): [number, number, number] {
  const [r, g, b] = c.map(lin);
  const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27) * t / 116 + 16 / 116);
  return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
}
const deltaE = (a: Rgb, b: Rgb) => Math.hypot(...lab(a).map((v, i) => v - lab(b)[i]));

describe('π verdict', () => {
  it('accepts π as a share only when D(0) is clearly positive and 0 ≤ π ≤ 1', () => {
    expect(piVerdict(0.4, 0.3)).toEqual({ ok: true });
    expect(piVerdict(0.4, 0)).toEqual({ ok: true });
    expect(piVerdict(0.4, 1)).toEqual({ ok: true });
  });

  it('flags the cases seen in the issue: π = −52.7%, and π = 91.6% when the prompt hurts', () => {
    const neg = piVerdict(0.3, -0.527);
    expect(neg.ok).toBe(false);
    expect(!neg.ok && neg.reason).toContain(pct(-0.527));
    const hurts = piVerdict(-0.53, 0.916);
    expect(hurts.ok).toBe(false);
    expect(!hurts.ok && hurts.reason).toContain(signedNats(-0.53));
  });

  it('flags a D(0) too small to divide by, and an undefined π', () => {
    expect(piVerdict(0.01, 0.5).ok).toBe(false);
    expect(piVerdict(0, null).ok).toBe(false);
    expect(piVerdict(null, null).ok).toBe(false);
  });
});

describe('robust colour limits', () => {
  it('one extreme token does not set the scale, and it is marked as clipped', () => {
    const b = [0.2, -0.1, 0.3, 0.15, -0.25, 0.1, 0.05, 0.2, -0.3, 0.12, 0.18, -0.08, 0.22, 0.1, 0.05, 0.09, 0.14, -0.2, 0.11, 0.07, -6.4];
    const s = robustScale(b);
    expect(s).toBeLessThan(1);
    expect(s).toBeGreaterThanOrEqual(0.3);
    expect(isClipped(-6.4, s)).toBe(true);
    expect(b.filter((v) => isClipped(v, s))).toEqual([-6.4]);
    // The 95th percentile of |v| by linear interpolation: for 0..100 it is 95.
    expect(robustScale(Array.from({ length: 101 }, (_, i) => i))).toBeCloseTo(95, 9);
  });
});

describe('contrast', () => {
  it('token text keeps at least 4.5:1 on every colour of the benefit and read scales', () => {
    for (let t = -1.2; t <= 1.2; t += 0.01) {
      expect(contrastRatio(parse(benefitColor(t, 1)), parse(benefitTextColor(t, 1)))).toBeGreaterThanOrEqual(4.5);
      expect(contrastRatio(parse(readColor(Math.abs(t), 1)), parse(readTextColor(Math.abs(t), 1)))).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('variant text colours read on white at 4.5:1 or more', () => {
    for (const v of VARIANT_STYLES) expect(contrastRatio(parse(v.text), [255, 255, 255])).toBeGreaterThanOrEqual(4.5);
  });
});

describe('variant palette', () => {
  it('the four compare colours stay apart under simulated deuteranopia and protanopia (ΔE > 20)', () => {
    const four = VARIANT_STYLES.slice(0, 4).map((v) => parse(v.color));
    for (const m of [DEUTAN, PROTAN]) {
      const sim = four.map((c) => simulate(c, m));
      for (let a = 0; a < 4; a++) for (let b = a + 1; b < 4; b++) expect(deltaE(sim[a], sim[b]), `variants ${a} and ${b}`).toBeGreaterThan(20);
    }
  });

  it('the four compare variants also differ by line style and marker', () => {
    const four = VARIANT_STYLES.slice(0, 4);
    expect(new Set(four.map((v) => v.line)).size).toBe(4);
    expect(new Set(four.map((v) => v.symbol)).size).toBe(4);
  });
});
