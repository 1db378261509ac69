// The per-head attention pattern of one run at one layer and head: request schema and response type shared by the
// server route, the typed client and the web app's pattern view.
import { z } from 'zod';

export const AttentionRequestSchema = z
  .object({
    layer: z.number().int().min(0),
    head: z.number().int().min(0),
    /** Weight each edge by ‖v_j W_O^h‖ (Kobayashi et al. 2020) and renormalise each row. */
    normWeighted: z.boolean().optional(),
  })
  .strict();
export type AttentionRequest = z.infer<typeof AttentionRequestSchema>;

export type TokenRole = 'bos' | 'prompt' | 'input';

export interface AttentionPattern {
  runId: string;
  layer: number;
  head: number;
  normWeighted: boolean;
  /** The hook names the numbers come from (the value norm only when normWeighted). */
  hooks: { pattern: string; valueNorm: string | null };
  /** The sequence [BOS] + P' + X: position t is tokens[t]. */
  tokens: { text: string; role: TokenRole }[];
  p: number;
  n: number;
  /**
   * weights[i][j] for query i = 0..T-1 and key j = 0..i (causal: row i has i + 1 entries). Attention probabilities,
   * or with normWeighted A_ij·‖v_j W_O‖ divided by its row sum, so every row sums to 1 either way.
   */
  weights: number[][];
  /** ‖v_j W_O^h‖ per key position j; null unless normWeighted. */
  valueNorms: number[] | null;
}
