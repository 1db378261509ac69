// Live token counts for the editor: request schema and answer of POST /api/tokenize, shared by the route and the client.
import { z } from 'zod';
import { MAX_TEXT_CHARS } from './api.js';

export const TokenCountSchema = z
  .object({
    model: z.string().min(1).max(200).optional(),
    /** Marker-free texts to count (the prompt after its {{…}} markers are removed, the input). */
    texts: z.array(z.string().max(MAX_TEXT_CHARS)).min(1).max(4),
  })
  .strict();
export type TokenCountRequest = z.infer<typeof TokenCountSchema>;

export interface TokenCount {
  model: string;
  /** Tokens of each text, in the order sent. */
  counts: number[];
  /** The model's context: BOS + prompt + input must fit it. */
  nCtx: number;
}
