// Builds the report objects (run, comparison, batch) from an analysis result plus what is known about the run and model.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { AnalysisResult } from '../../shared/analysis.js';
import { alignTokens, comparisonProblem } from '../../shared/comparison.js';
import type { ModelDir } from '../model/model-dir.js';
import {
  AnalysisResultSchema,
  BATCH_SCHEMA_ID,
  COMPARISON_SCHEMA_ID,
  REPORT_SCHEMA_ID,
  type BatchReport,
  type ComparedRun,
  type ComparisonReport,
  type Report,
} from './schema.js';

const require = createRequire(import.meta.url);

export class ReportInputError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'ReportInputError';
  }
}

let software: Report['software'] | null = null;
export function softwareVersions(): Report['software'] {
  if (!software) {
    const own = require('../../package.json') as { version: string };
    const ortDir = path.dirname(require.resolve('onnxruntime-node'));
    // onnxruntime-node's entry sits in dist/; its package.json is the nearest one above.
    let dir = ortDir;
    let ortVersion = 'unknown';
    for (let k = 0; k < 4; k++) {
      const pj = path.join(dir, 'package.json');
      if (fs.existsSync(pj)) {
        const j = JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string; version?: string };
        if (j.name === 'onnxruntime-node' && j.version) {
          ortVersion = j.version;
          break;
        }
      }
      dir = path.dirname(dir);
    }
    software = { precacheLens: own.version, node: process.version, onnxruntimeNode: ortVersion };
  }
  return software;
}

const fileHashes = new Map<string, { mtimeMs: number; size: number; hash: string }>();
function fileSha256(file: string): string | null {
  try {
    const st = fs.statSync(file);
    const c = fileHashes.get(file);
    if (c && c.mtimeMs === st.mtimeMs && c.size === st.size) return c.hash;
    const hash = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    fileHashes.set(file, { mtimeMs: st.mtimeMs, size: st.size, hash });
    return hash;
  } catch {
    return null;
  }
}

/** What the report knows about the run beyond its result: null ids for a result that was never stored. */
export interface RunMeta {
  id: string | null;
  label: string | null;
  parentId: string | null;
  createdAt: string | null;
  finishedAt: string | null;
  status: Report['run']['status'];
}

export const OFFLINE_RUN: RunMeta = { id: null, label: null, parentId: null, createdAt: null, finishedAt: null, status: 'done' };

/**
 * The model's identity. With its directory (when the caller knows the directory holds the graph the run used),
 * the full config.json and tokenizer file; without, what the result itself records.
 */
export function modelIdentity(result: AnalysisResult, md: ModelDir | null): Pick<Report, 'model' | 'tokenizer'> {
  const c = md?.config;
  return {
    model: {
      id: result.model.id,
      name: result.model.name,
      hash: result.model.hash,
      graphFile: md ? path.relative(md.dir, md.graphPath) : null,
      config: {
        modelType: c?.modelType ?? null,
        nLayer: result.model.nLayer,
        nHead: result.model.nHead,
        nKvHead: c?.nKvHead ?? null,
        dModel: result.model.dModel,
        dHead: c?.dHead ?? null,
        nCtx: result.model.nCtx,
        vocabSize: result.model.vocabSize,
        bosTokenId: c ? c.bosTokenId : null,
        eosTokenId: c ? c.eosTokenId : null,
        configJson: c ? c.raw : null,
      },
    },
    tokenizer: {
      file: md ? path.relative(md.dir, md.tokenizerPath) : null,
      hash: md ? fileSha256(md.tokenizerPath) : null,
      bos: { ...result.bos },
    },
  };
}

/** Checks a parsed JSON value is an analysis result (e.g. a file written by `analyze --json`); names the bad field. */
export function parseAnalysisResult(value: unknown, what = 'result'): AnalysisResult {
  const r = AnalysisResultSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const at = issue.path.length ? issue.path.join('.') : '(top level)';
    throw new ReportInputError(`${what}: not an analysis result (written by analyze --json): ${at}: ${issue.message}`, what);
  }
  return r.data;
}

function runInfo(result: AnalysisResult, meta: RunMeta): Report['run'] {
  return {
    id: meta.id,
    label: meta.label,
    parentId: meta.parentId,
    createdAt: meta.createdAt,
    finishedAt: meta.finishedAt,
    prompt: result.prompt.raw,
    promptText: result.prompt.text,
    input: result.input.text,
    options: { ...result.options },
    status: meta.status,
  };
}

export function buildReport(result: AnalysisResult, meta: RunMeta, md: ModelDir | null, now = new Date()): Report {
  return {
    schema: REPORT_SCHEMA_ID,
    generatedAt: now.toISOString(),
    software: softwareVersions(),
    ...modelIdentity(result, md),
    run: runInfo(result, meta),
    tokens: {
      bos: { id: result.bos.id, text: result.bos.text },
      prompt: result.prompt.tokens.map((t) => ({ id: t.id, text: t.text })),
      input: result.input.tokens.map((t) => ({ id: t.id, text: t.text })),
    },
    metrics: result,
    variants: result.variants,
    timings: result.timings,
  };
}

/**
 * Aligns runs on one input (of one model, or of models that tokenize it alike, e.g. twins: each run's metrics carry
 * its model); throws a ReportInputError naming `ids.k` for the run that does not fit (shared/comparison.ts).
 */
export function buildComparisonReport(items: { result: AnalysisResult; meta: RunMeta }[], md: ModelDir | null, now = new Date()): ComparisonReport {
  const problem = comparisonProblem(items.map((i) => i.result));
  if (problem) throw new ReportInputError(problem.message, problem.field ?? 'ids');
  const first = items[0].result;
  const runs: ComparedRun[] = items.map(({ result, meta }) => ({
    run: runInfo(result, meta),
    tokens: { prompt: result.prompt.tokens.map((t) => ({ id: t.id, text: t.text })) },
    metrics: result,
    variants: result.variants,
    timings: result.timings,
  }));
  return {
    schema: COMPARISON_SCHEMA_ID,
    generatedAt: now.toISOString(),
    software: softwareVersions(),
    ...modelIdentity(first, md),
    input: { text: first.input.text, tokens: first.input.tokens.map((t) => ({ id: t.id, text: t.text })) },
    runs,
    tokens: alignTokens(items.map((i) => i.result)),
  };
}

/** Every prompt x input result of a batch; `results[i][p]` is prompt p on input i. */
export function buildBatchReport(prompts: string[], inputs: string[], results: AnalysisResult[][], md: ModelDir | null, now = new Date()): BatchReport {
  const comparisons = results.map((row) =>
    buildComparisonReport(
      row.map((result, p) => ({ result, meta: { ...OFFLINE_RUN, label: `P${p + 1}` } })),
      md,
      now,
    ),
  );
  return {
    schema: BATCH_SCHEMA_ID,
    generatedAt: now.toISOString(),
    software: softwareVersions(),
    ...modelIdentity(results[0][0], md),
    prompts,
    inputs,
    comparisons,
  };
}

/** A short display name for a run: its label, else the start of its prompt. */
export function runTitle(run: Report['run']): string {
  if (run.label) return run.label;
  const text = run.promptText.replace(/\s+/g, ' ').trim();
  if (!text) return '(empty prompt)';
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}
