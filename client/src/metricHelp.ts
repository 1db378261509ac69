// One sentence per metric, shown in tooltips beside each number and chart title.

export const HELP = {
  lossWithPrompt: 'Mean next-token loss of the input X when the prompt P comes first: −log p(x_t | BOS, P, x_<t), averaged over X, in nats per token.',
  lossNoPrompt: 'Mean loss of X with no prompt, at the same absolute positions as with the prompt (BOS then X), in nats per token.',
  meanBenefit: 'Mean prompt benefit B = loss without prompt − loss with prompt, averaged over all input tokens x₁..xₙ; positive means the prompt helps.',
  benefitRead:
    'The same benefit averaged over x₂..xₙ only, the tokens predicted at X’s own columns. It equals D(0), the loss increase when X cannot read the prompt at any layer; x₁ is left out because it is predicted at the prompt’s last column, which no X→prompt edge reaches.',
  rollout: 'Attention rollout (Abnar & Zuidema 2020): the share of the input’s attention flow, multiplied through the layers, that ends on prompt tokens. A cheap baseline next to the knockouts.',
  attentionPattern:
    'One head’s attention pattern over the whole sequence: row = the token that reads (query), column = the token read (key). Prompt and input are marked; the BOS sink’s column is drawn apart on its own scale.',
  promptDiff: 'Each variant’s prompt against variant A’s, word by word: green was added, red struck through was removed.',
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
