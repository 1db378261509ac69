// HTTP API contract shared by server, CLI and web app: request schemas (zod), response types, a typed client.
import { z } from 'zod';
import type { AnalysisProgress, AnalysisResult, StagedResult } from './analysis.js';
import type { AttentionPattern, AttentionRequest } from './attention.js';
import type { TokenCount, TokenCountRequest } from './token-count.js';
import type { CreateExperimentRequest, ExperimentDetail, ExperimentSummaryRow, InputSetSummary } from './experiments.js';
import type { CreateSearchRequest, SearchDetail, SearchSummaryRow } from './search.js';
import type { RunWorker, WorkersResponse } from './pool.js';

export const MAX_TEXT_CHARS = 20_000;

export const AnalysisOptionsSchema = z
  .object({
    spans: z.enum(['auto', 'tokens', 'words', 'sentences', 'lines', 'marked']).optional(),
    layerWindow: z.number().int().min(0).max(64).optional(),
    topK: z.number().int().min(1).max(50).optional(),
    spanKnockouts: z.boolean().optional(),
  })
  .strict();

export const CreateRunSchema = z
  .object({
    model: z.string().min(1).max(200).optional(),
    prompt: z.string().max(MAX_TEXT_CHARS),
    input: z.string().min(1, 'must not be empty').max(MAX_TEXT_CHARS),
    options: AnalysisOptionsSchema.optional(),
    label: z.string().max(200).optional(),
    parentId: z.string().uuid().optional(),
  })
  .strict();
export type CreateRunRequest = z.infer<typeof CreateRunSchema>;

/** Runs one prompt + input on a model and on its myopic twin (`<model>-myopic`). */
export const TwinsSchema = CreateRunSchema.omit({ parentId: true }).extend({
  /** The second model instead of the myopic twin: any registered model with the same tokenizer (e.g. the bundled RWKV). */
  with: z.string().min(1).max(200).optional(),
});
export type TwinsRequest = z.infer<typeof TwinsSchema>;

/** A query-string integer written in plain decimal digits (`0x10`, `1e1` and ` 5` are refused, not reinterpreted). */
const decimalParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number in decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const ListRunsSchema = z.object({
  // SQLite's LIKE stops at a NUL, so `q=%00` would match every run: control characters are refused instead.
  q: z.string().max(200).regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters').optional(),
  limit: decimalParam(1, 200).default(50),
  offset: decimalParam(0, 1_000_000_000).default(0),
});

export const CompareSchema = z.object({ ids: z.array(z.string().uuid()).min(2).max(4) }).strict();
export type CompareRequest = z.infer<typeof CompareSchema>;

export type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface RunSummary {
  id: string;
  createdAt: string;
  finishedAt: string | null;
  status: RunStatus;
  label: string | null;
  parentId: string | null;
  modelId: string;
  modelHash: string | null;
  prompt: string;
  input: string;
  options: Record<string, unknown>;
  error: string | null;
  meanBenefit: number | null;
  precomputationShare: number | null;
}

export interface RunDetail extends RunSummary {
  result: AnalysisResult | null;
  /** The stages finished so far: while a run is running, and kept when it is cancelled or fails after a stage. */
  stages: StagedResult;
  progress: AnalysisProgress | null;
}

/** The history sidebar's list (GET /api/history): single runs, and each experiment as one row standing for all of its cells. */
export type HistoryEntry =
  | { kind: 'run'; run: RunSummary }
  | {
      kind: 'experiment';
      experiment: ExperimentSummaryRow;
      /** The first prompt's text, to tell experiments apart at a glance. */
      firstPrompt: string;
      /** Cells (runs) the experiment holds so far. */
      cells: number;
      /** With a search: how many of its cells match it (0 when only the experiment's label or prompts do); else null. */
      matchingCells: number | null;
    };

export interface HistoryPage {
  total: number;
  entries: HistoryEntry[];
}

export interface ModelSummary {
  id: string;
  name: string;
  dir: string;
  bundled: boolean;
  graph: string;
  modelHash: string;
  config: { modelType: string; nLayer: number; nHead: number; nKvHead: number; dModel: number; dHead: number; nCtx: number; vocabSize: number; bosTokenId: number | null; eosTokenId: number | null };
  attentionProblem: string | null;
  /** Which tokenizer the model reads with (a content hash and words); side-by-side views need the same id. */
  tokenizer: { id: string; description: string };
}

export interface ComparisonRun {
  id: string;
  label: string | null;
  prompt: string;
  summary: AnalysisResult['summary'];
  p: number;
  depthCurve: number[];
  layerProfile: number[];
  attentionShare: number[];
  normWeightedShare: number[];
  sink: number[];
}

export interface Comparison {
  model: { id: string; hash: string; nLayer: number };
  /** Per run (same order as `runs`): runs may come from different models with the same tokenizer (twins). */
  models: { id: string; name: string; hash: string; nLayer: number }[];
  input: string;
  runs: ComparisonRun[];
  /** One row per input token; arrays are indexed like `runs`. */
  tokens: { text: string; position: number[]; lossWithPrompt: number[]; lossNoPrompt: number; benefit: number[]; benefitVsFirst: number[] }[];
}

/** What a raw-activations export would weigh: per hook and the whole safetensors file, against the server's limit. */
export interface ActivationsEstimate {
  hooks: { name: string; shape: number[]; bytes: number }[];
  totalBytes: number;
  limitBytes: number;
  withinLimit: boolean;
}

export type RunReportTable = 'tokens' | 'layers' | 'heads' | 'spans';
export type ComparisonReportTable = 'summary' | RunReportTable;

export interface ApiErrorBody {
  error: string;
  field?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Turns a zod error into one message naming the first offending field (e.g. `options.layerWindow`). */
export function describeZodError(err: z.ZodError): { message: string; field: string } {
  const issue = err.issues[0];
  const field = issue.path.length ? issue.path.join('.') : 'body';
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') return { field: [...issue.path, ...issue.keys].join('.'), message: `unknown field "${issue.keys.join('", "')}"` };
  if (issue.code === 'invalid_type' && /received undefined/.test(message)) message = 'is required';
  return { field, message: `${field}: ${message}` };
}

/** Typed client over fetch, used by the web app, the CLI's remote mode and the tests. */
export class ApiClient {
  /** `token`: the access token of a server that listens beyond loopback (the browser app sends its cookie instead). */
  constructor(
    private readonly base = '',
    private readonly token?: string,
  ) {}

  private headers(json: boolean): Record<string, string> {
    return { ...(json ? { 'content-type': 'application/json' } : {}), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
  }

  private async req<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(`${this.base}${path}`, {
      method,
      headers: this.headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status === 204) return undefined as T;
    const text = await r.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      throw new ApiError(r.status, `server sent non-JSON (${r.status}): ${text.slice(0, 200)}`);
    }
    if (!r.ok) {
      const e = (data ?? {}) as ApiErrorBody;
      throw new ApiError(r.status, e.error ?? `HTTP ${r.status}`, e.field);
    }
    return data as T;
  }

  createSearch(body: CreateSearchRequest) {
    return this.req<{ id: string; status: string }>('POST', '/api/searches', body);
  }

  search(id: string) {
    return this.req<SearchDetail>('GET', `/api/searches/${encodeURIComponent(id)}`);
  }

  searches(limit = 50) {
    return this.req<{ total: number; searches: SearchSummaryRow[] }>('GET', `/api/searches?limit=${limit}`);
  }

  cancelSearch(id: string) {
    return this.req<{ id: string; status: string }>('POST', `/api/searches/${encodeURIComponent(id)}/cancel`);
  }

  deleteSearch(id: string) {
    return this.req<void>('DELETE', `/api/searches/${encodeURIComponent(id)}`);
  }

  createExperiment(body: CreateExperimentRequest) {
    return this.req<{ id: string; status: string }>('POST', '/api/experiments', body);
  }

  experiment(id: string) {
    return this.req<ExperimentDetail>('GET', `/api/experiments/${encodeURIComponent(id)}`);
  }

  experiments(limit = 50) {
    return this.req<{ total: number; experiments: ExperimentSummaryRow[] }>('GET', `/api/experiments?limit=${limit}`);
  }

  cancelExperiment(id: string) {
    return this.req<{ id: string; status: string }>('POST', `/api/experiments/${encodeURIComponent(id)}/cancel`);
  }

  deleteExperiment(id: string) {
    return this.req<void>('DELETE', `/api/experiments/${encodeURIComponent(id)}`);
  }

  inputSets() {
    return this.req<{ sets: InputSetSummary[] }>('GET', '/api/input-sets');
  }

  workers() {
    return this.req<WorkersResponse>('GET', '/api/workers');
  }

  runWorker(id: string) {
    return this.req<RunWorker>('GET', `/api/runs/${encodeURIComponent(id)}/worker`);
  }

  models() {
    return this.req<{ default: string | null; models: ModelSummary[] }>('GET', '/api/models');
  }
  createRun(body: CreateRunRequest) {
    return this.req<{ id: string; status: RunStatus }>('POST', '/api/runs', body);
  }
  run(id: string) {
    return this.req<RunDetail>('GET', `/api/runs/${encodeURIComponent(id)}`);
  }
  runs(params: { q?: string; limit?: number; offset?: number } = {}) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v));
    return this.req<{ total: number; runs: RunSummary[] }>('GET', `/api/runs${qs.size ? `?${qs}` : ''}`);
  }
  /** The history as the web app lists it: runs, and one entry per experiment for all of its cells. */
  history(params: { q?: string; limit?: number; offset?: number } = {}) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v));
    return this.req<HistoryPage>('GET', `/api/history${qs.size ? `?${qs}` : ''}`);
  }
  cancelRun(id: string) {
    return this.req<{ id: string; status: RunStatus }>('POST', `/api/runs/${encodeURIComponent(id)}/cancel`);
  }
  deleteRun(id: string) {
    return this.req<void>('DELETE', `/api/runs/${encodeURIComponent(id)}`);
  }
  createTwinRuns(body: TwinsRequest) {
    return this.req<{ vanilla: { id: string; status: RunStatus }; myopic: { id: string; status: RunStatus } }>('POST', '/api/twins', body);
  }
  compare(ids: string[]) {
    return this.req<Comparison>('POST', '/api/compare', { ids });
  }
  /** The versioned JSON report of a finished run (`precache-lens.report/1`). */
  runReport(id: string) {
    return this.req<{ schema: string } & Record<string, unknown>>('GET', `/api/runs/${encodeURIComponent(id)}/report.json`);
  }
  /** Download links for a run's reports; `inline` opens the HTML report in a tab (to print it to PDF). */
  runReportUrl(id: string, format: 'json' | 'html' | 'csv', opts: { table?: RunReportTable; inline?: boolean } = {}): string {
    const qs = new URLSearchParams();
    if (format === 'csv') qs.set('table', opts.table ?? 'tokens');
    if (opts.inline) qs.set('inline', '1');
    return `${this.base}/api/runs/${encodeURIComponent(id)}/report.${format}${qs.size ? `?${qs}` : ''}`;
  }
  /** Size of the safetensors file these hooks (names or globs such as `blocks.*.attn.hook_pattern`) would make. */
  estimateActivations(id: string, hooks: string[]) {
    return this.req<ActivationsEstimate>('POST', `/api/runs/${encodeURIComponent(id)}/activations/estimate`, { hooks });
  }
  /**
   * Where to POST for a run's raw activations (one safetensors file, tensors named by hook): a JSON body
   * `{hooks: [...]}`, or a form field `hooks=a,b` (a browser form streams the download to disk). Never a GET: the
   * server runs the model only on POST.
   */
  activationsUrl(id: string): string {
    return `${this.base}/api/runs/${encodeURIComponent(id)}/activations`;
  }
  /**
   * The server's reason for refusing an activations export (e.g. over the size limit), or null when it would send
   * the file (the body is then dropped unread).
   */
  async activationsRefusal(id: string, hooks: string[]): Promise<string | null> {
    const r = await fetch(this.activationsUrl(id), {
      method: 'POST',
      headers: this.headers(true),
      body: JSON.stringify({ hooks }),
    });
    if (r.ok) {
      await r.body?.cancel();
      return null;
    }
    const e = (await r.json().catch(() => ({}))) as ApiErrorBody;
    return e.error ?? `HTTP ${r.status}`;
  }
  /** The versioned JSON report of a comparison (`precache-lens.comparison/1`). */
  compareReport(ids: string[]) {
    return this.req<{ schema: string } & Record<string, unknown>>('POST', '/api/compare/report.json', { ids });
  }
  /** Download links for a comparison's reports. */
  compareReportUrl(ids: string[], format: 'json' | 'html' | 'csv', opts: { table?: ComparisonReportTable; inline?: boolean } = {}): string {
    const qs = new URLSearchParams({ ids: ids.join(',') });
    if (format === 'csv') qs.set('table', opts.table ?? 'summary');
    if (opts.inline) qs.set('inline', '1');
    return `${this.base}/api/compare/report.${format}?${qs}`;
  }
  /** One layer and head's attention pattern over the run's sequence (computed on the engine, hence a POST). */
  attention(id: string, body: AttentionRequest) {
    return this.req<AttentionPattern>('POST', `/api/runs/${encodeURIComponent(id)}/attention`, body);
  }
  /** How many tokens marker-free texts make on a model (the editor's live count). */
  countTokens(body: TokenCountRequest) {
    return this.req<TokenCount>('POST', '/api/tokenize', body);
  }
  /** Polls until the run leaves queued/running; `onUpdate` sees each poll. */
  async waitForRun(id: string, onUpdate?: (r: RunDetail) => void, intervalMs = 250): Promise<RunDetail> {
    for (;;) {
      const r = await this.run(id);
      onUpdate?.(r);
      if (r.status !== 'queued' && r.status !== 'running') return r;
      await new Promise((res) => setTimeout(res, intervalMs));
    }
  }
}
