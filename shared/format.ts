// How numbers and tokens are written, the same in the web UI and the HTML reports (units go in labels: nats, %).

/** A loss or knockout value in nats, fixed digits; '–' for a missing or non-finite value. */
export function nats(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toFixed(digits);
}

/** A difference in nats with its sign always written (a real minus sign, so columns line up). */
export function signedNats(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}`;
}

/** A share (0..1) as a percentage; π is always written this way, never as a bare fraction. */
export function pct(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return `${(v * 100).toFixed(digits)}%`;
}

/** A small residual such as the knockout identity's, in scientific notation. */
export function sci(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toExponential(digits);
}

/**
 * Makes a token's whitespace visible (GPT-2 and SentencePiece tokens often start with a space or are a newline). A
 * token with no text of its own is a leading byte of a character that a later token completes (byte-level BPE, <0xNN>
 * byte fallback): it is shown as "⋯" rather than as a blank.
 */
export function showToken(text: string): string {
  if (text === '') return '⋯';
  return text.replace(/\n/g, '⏎').replace(/\t/g, '⇥').replace(/^ /, '·');
}

/** A token shortened for a chart axis, whitespace made visible. */
export function axisToken(text: string, max = 12): string {
  const t = showToken(text);
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Below this |D(0)| (nats over x₂..xₙ) the prompt barely changes the loss, so D(1)/D(0) is a ratio of noise. */
export const PI_MIN_D0 = 0.02;

export type PiVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Whether π = D(1)/D(0) can be read as "the share of the prompt's benefit that needs the prompt's columns".
 * It cannot when D(0) is tiny or negative (the prompt does not help on x₂..xₙ) or when π leaves 0–100%
 * (D(1) and D(0) disagree in sign or D(1) > D(0)); the reason says which, in words for the user.
 */
export function piVerdict(d0: number | null | undefined, pi: number | null | undefined): PiVerdict {
  if (d0 === null || d0 === undefined || !Number.isFinite(d0) || pi === null || pi === undefined || !Number.isFinite(pi)) {
    return { ok: false, reason: 'π is undefined: the prompt has (almost) no benefit over x₂..xₙ, D(0) ≈ 0.' };
  }
  if (Math.abs(d0) < PI_MIN_D0) {
    return { ok: false, reason: `D(0) = ${signedNats(d0)} nats is below ${PI_MIN_D0} in size: the prompt barely changes the loss, so π is a ratio of noise; read D(1) in nats instead.` };
  }
  if (d0 < 0) {
    return { ok: false, reason: `D(0) = ${signedNats(d0)} nats: the prompt raises the loss on x₂..xₙ, so π is not a share of a benefit; read D(1) in nats instead.` };
  }
  if (pi < 0 || pi > 1) {
    return { ok: false, reason: `π = ${pct(pi)} lies outside 0–100%: D(1) = ${signedNats(pi * d0)} and D(0) = ${signedNats(d0)} nats do not nest, so π is no share; read D(1) in nats instead.` };
  }
  return { ok: true };
}
