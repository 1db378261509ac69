// Hook names (TransformerLens style): the one naming scheme shared by engine, API, UI labels and exports.

export const LAYER_HOOK_KINDS = [
  'hook_resid_pre',
  'hook_resid_mid',
  'hook_resid_post',
  'attn.hook_pattern',
  'attn.hook_v',
  'attn.hook_value_norm',
] as const;
export type LayerHookKind = (typeof LAYER_HOOK_KINDS)[number];

export const GLOBAL_HOOKS = ['ln_final.hook_normalized', 'logits'] as const;
export type GlobalHook = (typeof GLOBAL_HOOKS)[number];

/** A parsed hook name: either per layer (`blocks.3.attn.hook_pattern`) or global (`logits`). */
export type HookRef = { layer: number; kind: LayerHookKind } | { layer: null; kind: GlobalHook };

/** Shape of each hook's tensor, as documented in DESIGN.md (B batch, T tokens, d model width, H heads). */
export const HOOK_SHAPES: Record<LayerHookKind | GlobalHook, string> = {
  hook_resid_pre: '[B,T,d]',
  hook_resid_mid: '[B,T,d]',
  hook_resid_post: '[B,T,d]',
  'attn.hook_pattern': '[B,H,T,T]',
  'attn.hook_v': '[B,T,H,dh]',
  'attn.hook_value_norm': '[B,H,T]',
  'ln_final.hook_normalized': '[B,T,d]',
  logits: '[B,T,vocab]',
};

export function hookName(layer: number, kind: LayerHookKind): string {
  return `blocks.${layer}.${kind}`;
}

// Layer numbers are written without leading zeros, so each hook has exactly one name (`blocks.01...` is not one).
const LAYER_RE = /^blocks\.(0|[1-9]\d{0,5})\.(hook_resid_pre|hook_resid_mid|hook_resid_post|attn\.hook_pattern|attn\.hook_v|attn\.hook_value_norm)$/;

/** Parses a hook name; returns null for anything that is not a hook name. */
export function parseHookName(name: string): HookRef | null {
  const m = LAYER_RE.exec(name);
  if (m) return { layer: Number(m[1]), kind: m[2] as LayerHookKind };
  if ((GLOBAL_HOOKS as readonly string[]).includes(name)) return { layer: null, kind: name as GlobalHook };
  return null;
}

/** Every hook name a model with `nLayers` layers offers, in a stable order (layer-major). */
export function allHookNames(nLayers: number): string[] {
  const out: string[] = [];
  for (let l = 0; l < nLayers; l++) for (const k of LAYER_HOOK_KINDS) out.push(hookName(l, k));
  out.push(...GLOBAL_HOOKS);
  return out;
}

/**
 * Checks requested hook names against a model's layer count. Throws an Error naming the bad entry; returns the
 * names sorted in the canonical order (so equal sets give equal cache keys).
 */
export function validateHookNames(names: readonly string[], nLayers: number): string[] {
  const seen = new Set<string>();
  for (const n of names) {
    const ref = parseHookName(n);
    if (!ref) {
      throw new Error(
        `unknown hook "${n}": expected blocks.{l}.{${LAYER_HOOK_KINDS.join('|')}} or one of ${GLOBAL_HOOKS.join(', ')}`,
      );
    }
    if (ref.layer !== null && ref.layer >= nLayers) {
      throw new Error(`hook "${n}": layer ${ref.layer} does not exist (the model has layers 0..${nLayers - 1})`);
    }
    seen.add(n);
  }
  const order = allHookNames(nLayers);
  return order.filter((n) => seen.has(n));
}

/** Longest hook name or glob a request may give: every real hook name is far shorter. */
export const MAX_HOOK_PATTERN_CHARS = 100;

/**
 * Whether `name` matches the glob `pattern` (`*` any run of characters, `?` exactly one, everything else literal).
 * Greedy matching that remembers only the last `*`: O(|pattern| + |name|) steps for patterns with at most one star
 * and O(|pattern| * |name|) at worst, never exponential (a regular expression with many `.*` backtracks).
 */
export function globMatches(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === '?' || (pattern[p] !== '*' && pattern[p] === name[n]))) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

export function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

/**
 * The hooks of an `nLayers`-layer model that a name or glob picks, in canonical order; [] when it picks none.
 * Throws for a pattern over MAX_HOOK_PATTERN_CHARS, so no request can make matching expensive.
 */
export function matchHooks(pattern: string, nLayers: number): string[] {
  if (pattern.length > MAX_HOOK_PATTERN_CHARS) throw new Error(`is ${pattern.length} characters long; a hook name or glob has at most ${MAX_HOOK_PATTERN_CHARS}`);
  // Consecutive stars mean the same as one; collapsing them keeps the pattern short for the matcher.
  const glob = pattern.replace(/\*{2,}/g, '*');
  return allHookNames(nLayers).filter((h) => globMatches(glob, h));
}
