// Zod schemas of the exported report files (run report, comparison, batch); the committed JSON Schemas come from these.
import { z } from 'zod';
import type { AnalysisResult } from '../../shared/analysis.js';

export const REPORT_SCHEMA_ID = 'precache-lens.report/1';
export const COMPARISON_SCHEMA_ID = 'precache-lens.comparison/1';
export const BATCH_SCHEMA_ID = 'precache-lens.batch/1';

const nat = () => z.number().int().min(0);
// zod 4's z.number() already refuses NaN and ±Infinity, which JSON cannot carry anyway.
const num = () => z.number();
const share = () => z.number();

const TokenInfoSchema = z.object({ id: nat(), text: z.string() }).strict();
const PredictionSchema = z.object({ id: nat(), text: z.string(), prob: z.number().min(0).max(1) }).strict();

export const AnalysisOptionsOutSchema = z
  .object({
    spans: z.enum(['auto', 'tokens', 'words', 'sentences', 'lines', 'marked']),
    layerWindow: nat(),
    topK: z.number().int().min(1),
    spanKnockouts: z.boolean(),
  })
  .strict();

const InputTokenSchema = z
  .object({
    id: nat(),
    text: z.string(),
    position: nat(),
    lossWithPrompt: num(),
    lossNoPrompt: num(),
    lossNoPromptNatural: num(),
    benefit: num(),
    benefitNatural: num(),
    topWithPrompt: z.array(PredictionSchema),
    topNoPrompt: z.array(PredictionSchema),
  })
  .strict();

const VariantSchema = z
  .object({
    idx: nat(),
    kind: z.enum(['with-prompt', 'no-prompt', 'no-prompt-natural', 'depth', 'window', 'span-all', 'span-from-1']),
    label: z.string(),
    blockedLayers: z.array(nat()),
    blockedSpan: z.tuple([nat(), nat()]).nullable(),
    meanLoss: num(),
  })
  .strict();

const TimingsSchema = z
  .object({ tokenizeMs: num(), forwardMs: num(), knockoutMs: num(), metricsMs: num(), totalMs: num(), engineCalls: nat() })
  .strict();

const SummarySchema = z
  .object({
    meanLossWithPrompt: num(),
    meanLossNoPrompt: num(),
    meanLossNoPromptNatural: num(),
    meanBenefit: num(),
    meanBenefitNatural: num(),
    meanBenefitRead: num(),
    precomputationShare: num().nullable(),
    identityResidual: z.number().min(0),
    attentionRolloutShare: share(),
  })
  .strict();

/** The analysis result exactly as the pipeline produces it (shared/analysis.ts), every metric of one run. */
export const AnalysisResultSchema = z
  .object({
    schemaVersion: z.literal(1),
    model: z
      .object({
        id: z.string(),
        name: z.string(),
        hash: z.string(),
        nLayer: z.number().int().min(1),
        nHead: z.number().int().min(1),
        dModel: z.number().int().min(1),
        nCtx: z.number().int().min(1),
        vocabSize: z.number().int().min(1),
        architecture: z.enum(['transformer', 'rwkv']).optional().describe("absent: a transformer; 'rwkv': knockouts are state resets"),
      })
      .strict(),
    bos: z.object({ id: nat(), text: z.string(), source: z.enum(['bos', 'eos']) }).strict(),
    prompt: z
      .object({
        raw: z.string(),
        text: z.string(),
        tokens: z.array(TokenInfoSchema),
        offsets: z.array(z.tuple([nat(), nat()])),
        segments: z.array(z.object({ name: z.string(), charStart: nat(), charEnd: nat() }).strict()),
      })
      .strict(),
    input: z.object({ text: z.string(), tokens: z.array(InputTokenSchema) }).strict(),
    p: nat(),
    n: z.number().int().min(1),
    options: AnalysisOptionsOutSchema,
    summary: SummarySchema,
    layers: z.array(
      z
        .object({
          layer: nat(),
          hooks: z.object({ pattern: z.string(), valueNorm: z.string() }).strict(),
          attention: share(),
          attentionPerHead: z.array(share()),
          sink: share(),
          sinkPerHead: z.array(share()),
          normWeighted: share(),
          normWeightedPerHead: z.array(share()),
          state: z
            .object({ hook: z.string(), boundaryChange: z.number().min(0), inputChange: z.number().min(0) })
            .strict()
            .optional()
            .describe("recurrent models: ||state_with - state_no|| / ||state_no|| at the boundary and over X"),
        })
        .strict(),
    ),
    readMap: z.array(z.array(num())),
    depthCurve: z.array(num()),
    layerProfile: z.array(z.object({ layer: nat(), layers: z.array(nat()), k: num() }).strict()),
    spans: z.array(
      z
        .object({ label: z.string(), tokenStart: nat(), tokenEnd: nat(), charStart: nat(), charEnd: nat(), kAllLayers: num(), kFromLayer1: num(), parent: nat().optional() })
        .strict(),
    ),
    variants: z.array(VariantSchema),
    timings: TimingsSchema,
  })
  .strict();

// Compile-time check that the schema and the pipeline's type describe the same object, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _resultSchemaMatchesType: Same<z.infer<typeof AnalysisResultSchema>, AnalysisResult> = true;
void _resultSchemaMatchesType;

export const SoftwareSchema = z
  .object({
    precacheLens: z.string().describe('version of precache-lens (package.json)'),
    node: z.string().describe('Node.js version, e.g. v20.11.0'),
    onnxruntimeNode: z.string().describe('version of the onnxruntime-node package'),
  })
  .strict();

export const ModelIdentitySchema = z
  .object({
    id: z.string().describe('the id the server or CLI knew the model by'),
    name: z.string(),
    hash: z.string().describe('sha256 (hex) of the ONNX graph file the run used'),
    graphFile: z.string().nullable().describe('graph path relative to the model directory; null when the model directory was not available'),
    config: z
      .object({
        modelType: z.string().nullable(),
        nLayer: z.number().int().min(1),
        nHead: z.number().int().min(1),
        nKvHead: z.number().int().min(1).nullable(),
        dModel: z.number().int().min(1),
        dHead: z.number().int().min(1).nullable(),
        nCtx: z.number().int().min(1),
        vocabSize: z.number().int().min(1),
        bosTokenId: nat().nullable(),
        eosTokenId: nat().nullable(),
        configJson: z.record(z.string(), z.unknown()).nullable().describe('config.json as read; null when the model directory was not available'),
      })
      .strict(),
  })
  .strict();

export const TokenizerIdentitySchema = z
  .object({
    file: z.string().nullable().describe('tokenizer file name in the model directory (Hugging Face tokenizers format)'),
    hash: z.string().nullable().describe('sha256 (hex) of the tokenizer file'),
    bos: z.object({ id: nat(), text: z.string(), source: z.enum(['bos', 'eos']) }).strict().describe('the token at position 0; source says whether it is the BOS token or the EOS used as one'),
  })
  .strict();

export const RunInfoSchema = z
  .object({
    id: z.string().nullable().describe('run id in the server history; null for a result that was never stored (CLI analyze --json)'),
    label: z.string().nullable(),
    parentId: z.string().nullable(),
    createdAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    prompt: z.string().describe('the prompt as typed, with {{name|text}} span markers'),
    promptText: z.string().describe('the prompt the model saw (markers removed)'),
    input: z.string(),
    options: AnalysisOptionsOutSchema,
    status: z.enum(['queued', 'running', 'done', 'failed', 'cancelled']),
  })
  .strict();

const TokensSchema = z
  .object({
    bos: TokenInfoSchema,
    prompt: z.array(TokenInfoSchema),
    input: z.array(TokenInfoSchema),
  })
  .strict()
  .describe('the exact sequence the model ran: [bos] + prompt + input, at positions 0..T-1');

export const ReportSchema = z
  .object({
    schema: z.literal(REPORT_SCHEMA_ID),
    generatedAt: z.string().describe('ISO 8601 time the report was written'),
    software: SoftwareSchema,
    model: ModelIdentitySchema,
    tokenizer: TokenizerIdentitySchema,
    run: RunInfoSchema,
    tokens: TokensSchema,
    metrics: AnalysisResultSchema,
    variants: z.array(VariantSchema).describe('every forward variant the analysis ran, with its mean loss'),
    timings: TimingsSchema,
  })
  .strict()
  .meta({ title: 'Precache Lens run report', description: 'One analysis run: model identity, inputs, token strings, every metric, variants, timings.' });
export type Report = z.infer<typeof ReportSchema>;

/** One run inside a comparison: the run report without the parts every compared run shares. */
const ComparedRunSchema = z
  .object({
    run: RunInfoSchema,
    tokens: z.object({ prompt: z.array(TokenInfoSchema) }).strict(),
    metrics: AnalysisResultSchema,
    variants: z.array(VariantSchema),
    timings: TimingsSchema,
  })
  .strict();

export const ComparisonTokenSchema = z
  .object({
    index: nat(),
    id: nat(),
    text: z.string(),
    lossNoPromptNatural: num().describe('loss of [BOS] + input at positions 0..n: the same for every run'),
    position: z.array(nat()).describe('indexed like runs'),
    lossWithPrompt: z.array(num()),
    lossNoPrompt: z.array(num()).describe('loss without the prompt at each run\'s own positions'),
    benefit: z.array(num()),
    benefitVsFirst: z.array(num()).describe('lossWithPrompt of runs[0] minus this run\'s: > 0 where this prompt does better than the first'),
  })
  .strict();

export const ComparisonReportSchema = z
  .object({
    schema: z.literal(COMPARISON_SCHEMA_ID),
    generatedAt: z.string(),
    software: SoftwareSchema,
    model: ModelIdentitySchema,
    tokenizer: TokenizerIdentitySchema,
    input: z.object({ text: z.string(), tokens: z.array(TokenInfoSchema) }).strict(),
    runs: z.array(ComparedRunSchema).min(1),
    tokens: z.array(ComparisonTokenSchema).describe('one row per input token, aligned across runs'),
  })
  .strict()
  .meta({ title: 'Precache Lens comparison report', description: 'Prompt variants run on one input, aligned token by token: on one model, or on models that tokenize the input alike (a model and its myopic twin; the metrics of each run name its model).' });
export type ComparisonReport = z.infer<typeof ComparisonReportSchema>;
export type ComparedRun = ComparisonReport['runs'][number];

export const BatchReportSchema = z
  .object({
    schema: z.literal(BATCH_SCHEMA_ID),
    generatedAt: z.string(),
    software: SoftwareSchema,
    model: ModelIdentitySchema,
    tokenizer: TokenizerIdentitySchema,
    prompts: z.array(z.string()).min(1),
    inputs: z.array(z.string()).min(1),
    comparisons: z.array(ComparisonReportSchema).describe('one per input (same order as inputs): every prompt, in file order, on that input'),
  })
  .strict()
  .meta({ title: 'Precache Lens batch report', description: 'Every prompt x every input of a batch run, one comparison per input.' });
export type BatchReport = z.infer<typeof BatchReportSchema>;

/** The JSON Schema files committed under schemas/, keyed by file name. */
export function reportJsonSchemas(): Record<string, unknown> {
  const gen = (s: z.ZodType) => z.toJSONSchema(s, { target: 'draft-2020-12' }) as Record<string, unknown>;
  return {
    'report.v1.schema.json': gen(ReportSchema),
    'comparison.v1.schema.json': gen(ComparisonReportSchema),
    'batch.v1.schema.json': gen(BatchReportSchema),
  };
}
