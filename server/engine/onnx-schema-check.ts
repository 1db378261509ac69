// The ONNX protobuf schema the project carries (onnx-proto) stops at IR version 8; decoding silently drops fields of
// newer IR versions. This scans a file's wire format for such fields so that a rewrite never loses meaning.
import protobuf from 'protobufjs/minimal.js';

/** The newest IR version whose every field the carried schema knows. */
export const SCHEMA_IR_VERSION = 8;

type Msg = 'model' | 'graph' | 'node' | 'attribute' | 'tensor' | 'valueInfo' | 'opaque';

/** Per message: known field number -> the message type to descend into (or 'opaque' for scalars and others). */
const KNOWN: Record<Exclude<Msg, 'opaque'>, Record<number, Msg>> = {
  model: { 1: 'opaque', 2: 'opaque', 3: 'opaque', 4: 'opaque', 5: 'opaque', 6: 'opaque', 7: 'graph', 8: 'opaque', 14: 'opaque', 20: 'opaque', 25: 'opaque' },
  graph: { 1: 'node', 2: 'opaque', 5: 'tensor', 10: 'opaque', 11: 'valueInfo', 12: 'valueInfo', 13: 'valueInfo', 14: 'opaque', 15: 'opaque' },
  node: { 1: 'opaque', 2: 'opaque', 3: 'opaque', 4: 'opaque', 5: 'attribute', 6: 'opaque', 7: 'opaque' },
  attribute: { 1: 'opaque', 2: 'opaque', 3: 'opaque', 4: 'opaque', 5: 'tensor', 6: 'graph', 7: 'opaque', 8: 'opaque', 9: 'opaque', 10: 'tensor', 11: 'graph', 13: 'opaque', 14: 'opaque', 15: 'opaque', 20: 'opaque', 21: 'opaque', 22: 'opaque', 23: 'opaque' },
  tensor: { 1: 'opaque', 2: 'opaque', 3: 'opaque', 4: 'opaque', 5: 'opaque', 6: 'opaque', 7: 'opaque', 8: 'opaque', 9: 'opaque', 10: 'opaque', 11: 'opaque', 12: 'opaque', 13: 'opaque', 14: 'opaque' },
  valueInfo: { 1: 'opaque', 2: 'opaque', 3: 'opaque' },
};

/**
 * Fields of newer IR versions that only annotate (metadata_props on graphs, nodes, tensors and value infos): losing
 * them on a rewrite changes nothing that runs.
 */
const ANNOTATIONS: Partial<Record<Msg, Set<number>>> = {
  graph: new Set([16]),
  node: new Set([9]),
  tensor: new Set([16]),
  valueInfo: new Set([4]),
};

const FIELD_NAMES: Partial<Record<Msg, Record<number, string>>> = {
  model: { 26: 'ModelProto.configuration (IR 11 device configurations)' },
  node: { 8: 'NodeProto.overload (IR 10 function overloads)', 10: 'NodeProto.device_configurations (IR 11)' },
};

export interface UnknownField {
  message: Msg;
  field: number;
  what: string;
}

function scan(buf: Uint8Array, msg: Exclude<Msg, 'opaque'>, out: UnknownField[], depth: number): void {
  const r = protobuf.Reader.create(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    const child = KNOWN[msg][field];
    if (child === undefined && !ANNOTATIONS[msg]?.has(field)) {
      out.push({ message: msg, field, what: FIELD_NAMES[msg]?.[field] ?? `${msg} field ${field}` });
    }
    if (child && child !== 'opaque' && wire === 2 && depth < 64) {
      const len = r.uint32();
      scan(buf.subarray(r.pos, r.pos + len), child, out, depth + 1);
      r.pos += len;
    } else r.skipType(wire);
  }
}

/** Fields in an encoded ModelProto that the carried schema does not know and that are not mere annotations. */
export function unknownFields(bytes: Uint8Array): UnknownField[] {
  const out: UnknownField[] = [];
  scan(bytes, 'model', out, 0);
  return out;
}
