// The models this server offers: the bundled default (and its myopic twin) plus directories the user names.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openModelDir, type ModelDir } from './model-dir.js';
import { settings } from '../settings.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The bundled models by role: the default model and its myopic twin, an RWKV (recurrent) pair on the same tokenizer
 * to put next to them, and a real pretrained model on its own tokenizer: llama2.c's stories260K (children's stories),
 * converted by tools/py/stories260k_convert.py. Folder names under models/; a model's registry id is its folder's
 * name (openModelDir's `name`). Renaming a bundled model is a change of this list only: code and tests refer to the
 * roles (BUNDLED, BUNDLED_IDS), never to the folder names.
 */
const BUNDLED_NAMES = {
  /** The default model: a GPT-2-style transformer (what a request that names no model runs on). */
  default: 'precache-gpt2-8l-8k',
  /** The default model's myopic twin: named `<default>-myopic` (ModelRegistry.twinOf finds twins by that name). */
  defaultTwin: 'precache-gpt2-8l-8k-myopic',
  /** The bundled recurrent (RWKV) model, on the default model's tokenizer. */
  recurrent: 'precache-rwkv-4l-8k',
  /** The recurrent model's myopic twin, named `<recurrent>-myopic`. */
  recurrentTwin: 'precache-rwkv-4l-8k-myopic',
  /** llama2.c's stories260K, on its own 512-token tokenizer. */
  stories: 'precache-stories-260k',
} as const;

export type BundledRole = keyof typeof BUNDLED_NAMES;

const mapRoles = <T>(f: (name: string) => T) =>
  Object.fromEntries(Object.entries(BUNDLED_NAMES).map(([role, name]) => [role, f(name)])) as { readonly [R in BundledRole]: T };

/** The bundled models' registry ids (their folder names), by role. */
export const BUNDLED_IDS = mapRoles((name) => name);
/** The bundled models' directories (absolute), by role. */
export const BUNDLED = mapRoles((name) => path.join(ROOT, 'models', name));
/** The bundled model directories, in the order the registry lists them (the default model first). */
export const BUNDLED_MODELS = (Object.keys(BUNDLED_NAMES) as BundledRole[]).map((role) => BUNDLED[role]);
export const DEFAULT_MODEL_DIR = BUNDLED.default;
export const DEFAULT_MODEL_ID = BUNDLED_IDS.default;

export interface RegisteredModel {
  id: string;
  md: ModelDir;
  bundled: boolean;
}

/** Model directories or ONNX graph files from the PRECACHE_LENS_MODELS environment variable (path-delimiter separated). */
export function modelsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return settings(env).models;
}

export class ModelRegistry {
  private readonly byId = new Map<string, RegisteredModel>();

  /** Opens every directory up front so a bad one fails at start with a message naming the file. */
  constructor(userDirs: string[], includeBundled = true) {
    const dirs = [...userDirs.map((d) => ({ d, bundled: false })), ...(includeBundled ? BUNDLED_MODELS.filter((d) => fs.existsSync(d)).map((d) => ({ d, bundled: true })) : [])];
    for (const { d, bundled } of dirs) {
      const md = openModelDir(d);
      if ([...this.byId.values()].some((m) => m.md.graphPath === md.graphPath)) continue;
      let id = md.name;
      for (let k = 2; this.byId.has(id); k++) id = `${md.name}-${k}`;
      this.byId.set(id, { id, md, bundled });
    }
  }

  list(): RegisteredModel[] {
    return [...this.byId.values()];
  }

  get(id: string): RegisteredModel | undefined {
    return this.byId.get(id);
  }

  /** The myopic twin of a model: the registered model whose directory is `<name>-myopic`. */
  twinOf(id: string): RegisteredModel | undefined {
    const m = this.byId.get(id);
    if (!m) return undefined;
    return this.list().find((x) => x.md.name === `${m.md.name}-myopic`);
  }

  /** The model used when a request names none: the first user model, else the bundled default. */
  defaultId(): string | null {
    return this.list()[0]?.id ?? null;
  }
}
