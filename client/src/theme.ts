// One colour scheme for every view, from shared/palette.ts (the HTML reports use the same): each measured quantity keeps
// its colour across charts, text and legends; variants get colour-blind-safe colours with distinct line styles.
export {
  benefitColor,
  benefitTextColor,
  COLORS,
  isClipped,
  READ_RAMP,
  robustScale,
  segmentColor,
  SEGMENT_COLORS,
  VARIANT_COLORS,
  variantLineStyle,
  variantStyle,
} from '@shared/palette.js';
