// The models this server offers: the bundled default (and its myopic twin) plus directories the user names.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openModelDir, type ModelDir } from './model-dir.js';
import { settings } from '../settings.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The default model and its myopic twin, an RWKV (recurrent) pair on the same tokenizer to put next to them, and a
 * real pretrained model on its own tokenizer: llama2.c's stories260K (children's stories), converted by
 * tools/py/stories260k_convert.py.
 */
export const BUNDLED_MODELS = [
  path.join(ROOT, 'models/precache-gpt2-8l'),
  path.join(ROOT, 'models/precache-gpt2-8l-myopic'),
  path.join(ROOT, 'models/precache-rwkv-4l'),
  path.join(ROOT, 'models/precache-rwkv-4l-myopic'),
  path.join(ROOT, 'models/precache-stories-260k'),
];
export const DEFAULT_MODEL_DIR = BUNDLED_MODELS[0];

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
