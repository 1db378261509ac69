// Row geometry shared by the read map and the span bars beside it, so prompt token rows line up across both charts.
export const ROW_H = 18;
export const ROWS_TOP = 30;
export const ROWS_BOTTOM = 66;

export function rowsHeight(p: number): number {
  return ROWS_TOP + ROWS_BOTTOM + Math.max(1, p) * ROW_H;
}

/** Index of the span that holds prompt token j, or -1 (marked spans may leave tokens outside every span). */
export function spanOfToken(spans: readonly { tokenStart: number; tokenEnd: number }[], j: number): number {
  return spans.findIndex((s) => j >= s.tokenStart && j < s.tokenEnd);
}
