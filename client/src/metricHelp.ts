// One sentence per metric, shown in tooltips beside each number and chart title.

export const HELP = {
  lossWithPrompt: 'Mean next-token loss of the input X when the prompt P comes first: −log p(x_t | BOS, P, x_<t), averaged over X, in nats per token.',
  lossNoPrompt: 'Mean loss of X with no prompt, at the same absolute positions as with the prompt (BOS then X), in nats per token.',
  meanBenefit: 'Mean prompt benefit B = loss without prompt − loss with prompt, averaged over the input tokens; positive means the prompt helps.',
  precomputationShare:
    "Precomputation share π = D(1)/D(0): how much of the prompt's benefit needs computation at the prompt's own columns, not just its raw tokens.",
  identityResidual: 'Knockout identity check |K(all layers) − mean B over tokens read at X’s columns|; should stay below 1e-4 nats.',
  benefitNatural: 'Benefit against the natural no-prompt run, where X starts at position 1 instead of after the prompt.',
  tokenBenefit: 'Each input token coloured by its benefit B_t (nats): blue where the prompt lowers its loss, red where it raises it. Hover for details.',
  depthCurve:
    'D(k) = mean loss increase on x₂..xₙ when every edge X→prompt is blocked at layers k..L−1 (nats); D(L) = 0. D(0) equals the mean benefit over x₂..xₙ: x₁ is predicted at the prompt’s last column, which no X→prompt edge reaches, so knockouts average over the tokens X’s own columns predict.',
  layerProfile: "K of a window of layers around each layer (nats): the loss increase when X cannot read the prompt's columns there.",
  readShare:
    "Share of X's attention (or of its norm-weighted attention ‖α·v·W_O‖) that lands on prompt tokens, per layer; the BOS sink's mass is shown apart.",
  headGrid: 'Read share per layer and head: how much each head at each layer reads the prompt’s columns from the input.',
  readMap: "Norm-weighted read of each prompt token at each layer, averaged over the input's tokens (share of the read).",
  spanImportance:
    'K(span): mean loss increase on X when X cannot read that span of the prompt — at all layers, and at layers ≥ 1 (raw tokens still readable at layer 0).',
  compare: 'Variants of a prompt on the same input: headline numbers, overlaid curves and per-token benefit differences against the first run.',
} as const;
