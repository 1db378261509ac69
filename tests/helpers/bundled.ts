// The bundled models' ids and directories by role, under short names, so that tests never spell the folder names:
// renaming a bundled model is a change of server/model/registry.ts's list only.
import { BUNDLED, BUNDLED_IDS } from '../../server/model/registry.js';

/** The default model (what a request that names no model runs on) and its myopic twin. */
export const DEFAULT_ID = BUNDLED_IDS.default;
export const TWIN_ID = BUNDLED_IDS.defaultTwin;
/** The bundled recurrent (RWKV) model, on the default model's tokenizer, and its myopic twin. */
export const RWKV_ID = BUNDLED_IDS.recurrent;
export const RWKV_TWIN_ID = BUNDLED_IDS.recurrentTwin;
/** llama2.c's stories260K, on its own tokenizer. */
export const STORIES_ID = BUNDLED_IDS.stories;

export const DEFAULT_DIR = BUNDLED.default;
export const TWIN_DIR = BUNDLED.defaultTwin;
export const RWKV_DIR = BUNDLED.recurrent;
export const RWKV_TWIN_DIR = BUNDLED.recurrentTwin;
export const STORIES_DIR = BUNDLED.stories;
