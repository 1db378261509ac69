// The safetensors file format (what Python's safetensors and PyTorch read): writer for float32 tensors, and a reader.
// Layout: u64 little-endian header length N, N bytes of JSON header (padded with spaces to a multiple of 8), then
// the raw little-endian tensor bytes; each header entry's data_offsets [begin, end) are relative to the data start.
import os from 'node:os';

export interface NamedTensor {
  name: string;
  dims: readonly number[];
  data: Float32Array;
}

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export const METADATA_KEY = '__metadata__';

const LITTLE_ENDIAN = os.endianness() === 'LE';

function littleEndianBytes(data: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(data.byteLength);
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], 4 * i);
  return out;
}

/** The 8-byte length + JSON header for these tensors, in the given order, and the total file size. */
export function safetensorsHeader(tensors: readonly { name: string; dims: readonly number[] }[], metadata: Record<string, string>): { header: Buffer; totalBytes: number } {
  const entries: Record<string, SafetensorsEntry | Record<string, string>> = { [METADATA_KEY]: metadata };
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === METADATA_KEY || seen.has(t.name)) throw new Error(`safetensors: tensor name "${t.name}" is reserved or repeated`);
    seen.add(t.name);
    const bytes = 4 * t.dims.reduce((a, b) => a * b, 1);
    entries[t.name] = { dtype: 'F32', shape: [...t.dims], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(entries);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += ' '.repeat(pad);
  const jsonBytes = Buffer.from(json, 'utf8');
  const header = Buffer.alloc(8 + jsonBytes.length);
  header.writeBigUInt64LE(BigInt(jsonBytes.length), 0);
  jsonBytes.copy(header, 8);
  return { header, totalBytes: header.length + offset };
}

/** The file as a list of chunks (header, then each tensor's bytes without copying on little-endian hosts). */
export function safetensorsChunks(tensors: readonly NamedTensor[], metadata: Record<string, string>): { chunks: Buffer[]; totalBytes: number } {
  for (const t of tensors) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: tensor "${t.name}" has ${t.data.length} values but shape [${t.dims.join(', ')}]`);
  }
  const { header, totalBytes } = safetensorsHeader(tensors, metadata);
  return { chunks: [header, ...tensors.map((t) => littleEndianBytes(t.data))], totalBytes };
}

export function writeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string>): Buffer {
  return Buffer.concat(safetensorsChunks(tensors, metadata).chunks);
}

export interface ParsedSafetensors {
  headerLength: number;
  header: Record<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  tensors: Map<string, { dims: number[]; data: Float32Array }>;
}

/**
 * Reads a safetensors file of F32 tensors, checking what the format requires: the header length fits the file, the
 * header is a JSON object, offsets are in range and the tensors tile the data section without gaps or overlaps.
 */
export function readSafetensors(buf: Uint8Array): ParsedSafetensors {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8) throw new Error('safetensors: shorter than the 8-byte header length');
  const n = Number(b.readBigUInt64LE(0));
  if (8 + n > b.length) throw new Error(`safetensors: header length ${n} runs past the end of the file`);
  const raw = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const data = b.subarray(8 + n);
  const metadata = (raw[METADATA_KEY] ?? {}) as Record<string, string>;
  const header: Record<string, SafetensorsEntry> = {};
  for (const [k, v] of Object.entries(raw)) if (k !== METADATA_KEY) header[k] = v as SafetensorsEntry;
  const sorted = Object.entries(header).sort((x, y) => x[1].data_offsets[0] - y[1].data_offsets[0]);
  let expected = 0;
  const tensors = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const [name, e] of sorted) {
    if (e.dtype !== 'F32') throw new Error(`safetensors: ${name}: dtype ${e.dtype}, only F32 is read here`);
    const [begin, end] = e.data_offsets;
    if (begin !== expected) throw new Error(`safetensors: ${name}: starts at ${begin}, expected ${expected} (gap or overlap)`);
    const count = e.shape.reduce((a, c) => a * c, 1);
    if (end - begin !== 4 * count) throw new Error(`safetensors: ${name}: ${end - begin} bytes for shape [${e.shape.join(', ')}]`);
    if (end > data.length) throw new Error(`safetensors: ${name}: ends at ${end}, past the data (${data.length} bytes)`);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = data.readFloatLE(begin + 4 * i);
    tensors.set(name, { dims: e.shape, data: values });
    expected = end;
  }
  if (expected !== data.length) throw new Error(`safetensors: ${data.length - expected} bytes after the last tensor`);
  return { headerLength: n, header, metadata, tensors };
}
