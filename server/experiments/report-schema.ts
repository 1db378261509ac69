// The experiment report format (`precache-lens.experiment/1`) as a zod schema; schemas/experiment.v1.schema.json is generated from it.
import { z } from 'zod';

export const EXPERIMENT_SCHEMA_ID = 'precache-lens.experiment/1';

const IntervalSchema = z.object({ mean: z.number(), lo: z.number(), hi: z.number() }).describe('estimate and 95% bootstrap confidence interval');
const MaybeInterval = IntervalSchema.nullable();

export const ExperimentReportSchema = z
  .object({
    schema: z.literal(EXPERIMENT_SCHEMA_ID),
    generatedAt: z.string(),
    software: z.object({ name: z.literal('precache-lens'), version: z.string() }),
    experiment: z.object({
      id: z.string(),
      label: z.string().nullable(),
      status: z.enum(['running', 'done', 'failed', 'cancelled']),
      createdAt: z.string(),
      finishedAt: z.string().nullable(),
      error: z.string().nullable(),
      models: z.array(z.string()).min(1).max(2).describe('model ids; the second, if any, is the myopic twin'),
      options: z.record(z.string(), z.unknown()),
      statistics: z.object({ resamples: z.number().int(), seed: z.number().int(), level: z.number() }),
      progress: z.object({ done: z.number().int(), failed: z.number().int(), total: z.number().int(), etaS: z.number().nullable() }),
    }),
    prompts: z.array(z.object({ label: z.string().nullable(), text: z.string() })),
    inputs: z.array(z.object({ text: z.string(), source: z.object({ set: z.string(), doc: z.string(), offset: z.number().int() }).optional() })),
    summary: z.array(
      z.object({
        prompt: z.number().int(),
        model: z.number().int(),
        n: z.number().int(),
        meanBenefit: MaybeInterval,
        meanBenefitRead: MaybeInterval,
        precomputationShare: MaybeInterval.describe('pi over inputs: sum D_i(1) / sum D_i(0)'),
        depthCurve: z.array(IntervalSchema).describe('D(k), k = 0..L'),
        readShares: z.array(z.object({ layer: z.number().int(), attention: IntervalSchema, normWeighted: IntervalSchema, sink: IntervalSchema })),
        meanLossWithPrompt: MaybeInterval,
        meanLossNoPrompt: MaybeInterval,
      }),
    ),
    pairs: z.array(
      z.object({
        a: z.number().int(),
        b: z.number().int(),
        model: z.number().int(),
        n: z.number().int(),
        meanBenefitDiff: IntervalSchema.extend({ p: z.number(), pHolm: z.number() }).nullable().describe('mean of B_a - B_b over inputs; sign-flip p; Holm over the pairs'),
      }),
    ),
    twins: z
      .array(
        z.object({
          prompt: z.number().int(),
          n: z.number().int(),
          myopiaGap: MaybeInterval,
          myopiaGapNoPrompt: MaybeInterval,
          precomputationShareDiff: MaybeInterval,
          lossByPosition: z.array(
            z.object({
              position: z.number().int(),
              count: z.number().int(),
              withPrompt: z.tuple([z.number(), z.number()]),
              noPrompt: z.tuple([z.number(), z.number()]),
            }),
          ),
        }),
      )
      .nullable(),
    cells: z.array(
      z.object({
        prompt: z.number().int(),
        input: z.number().int(),
        model: z.number().int(),
        runId: z.string().nullable(),
        status: z.enum(['pending', 'queued', 'running', 'done', 'failed', 'cancelled']),
        error: z.string().nullable(),
        meanBenefit: z.number().nullable(),
        meanBenefitRead: z.number().nullable(),
        precomputationShare: z.number().nullable(),
        depthCurve: z.array(z.number()).nullable(),
      }),
    ),
  })
  .strict();

export type ExperimentReport = z.infer<typeof ExperimentReportSchema>;

export function experimentJsonSchemas(): Record<string, unknown> {
  return { 'experiment.v1.schema.json': z.toJSONSchema(ExperimentReportSchema, { target: 'draft-2020-12' }) };
}
