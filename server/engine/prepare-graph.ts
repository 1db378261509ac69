// Brings an export into the form graph surgery reads: fused operators expanded into standard ONNX ops.
import type { ModelProto } from './onnx-graph.js';
import { UnfuseError, unfuseModel, type UnfusedNode } from './unfuse/index.js';

export interface PreparedGraph {
  /** Fused nodes replaced by their definitions. */
  unfused: UnfusedNode[];
  /** Why a fused node could not be expanded (names the node, the attribute and the file); the graph is then as exported. */
  problem: string | null;
}

/** Edits `model` in place. Never throws for an operator it cannot expand: that is reported in `problem`. */
export function prepareGraph(model: ModelProto, file: string): PreparedGraph {
  try {
    return { unfused: unfuseModel(model, file), problem: null };
  } catch (e) {
    if (e instanceof UnfuseError) return { unfused: [], problem: e.message };
    throw e;
  }
}
