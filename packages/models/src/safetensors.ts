/**
 * Safetensors weight files, the format of Hugging Face's `safetensors` library, read and written
 * from bytes so that it works in browsers and Node alike (the file helpers are in
 * safetensors-node.ts).
 *
 * Layout of a file:
 *   - 8 bytes: N, the header length, an unsigned little-endian 64-bit integer;
 *   - N bytes: a UTF-8 JSON object mapping each tensor name to
 *     {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, plus an optional
 *     "__metadata__" object of string values. Writers pad it with spaces to a multiple of 8 bytes;
 *   - the data buffer: each tensor's elements, row-major and little-endian, at bytes
 *     [begin, end) counted from the start of the buffer. Together the tensors cover the
 *     buffer exactly, without gaps or overlaps.
 *
 * metagrad reads and writes F32 and F64. The checks and the order of tensors follow the
 * reference implementation, huggingface/safetensors (safetensors/src/tensor.rs), and the
 * tests check the exact bytes that its own tests expect.
 */
import { Tensor } from '@metagrad/autodiff';
import { formatShape } from '@metagrad/kernels';
import { type JsonObject, type JsonValue, parseStrictJson } from './strict-json';

// The package runs in browsers and Node without either's type library, so declare the text codecs it uses.
declare const TextEncoder: new () => { encode(text: string): Uint8Array };
declare const TextDecoder: new (label: string, options: { fatal: boolean }) => { decode(bytes: Uint8Array): string };

/** Tensors by name and the file's string metadata (empty when the file has none). */
export interface SafetensorsContent {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** Options of `parseSafetensors`. */
export interface ParseSafetensorsOptions {
  /** A file path or other name of where the bytes come from, used in error messages. */
  source?: string;
}

/** Headers longer than this are rejected before parsing, as the reference implementation does (100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

const HEADER_LENGTH_BYTES = 8;
const HEADER_ALIGNMENT = 8;
const METADATA_KEY = '__metadata__';

/** Bytes per element of the dtypes metagrad reads. */
const SUPPORTED_DTYPES = { F32: 4, F64: 8 } as const;
type SupportedDtype = keyof typeof SUPPORTED_DTYPES;

/** Other dtypes of the safetensors format, rejected by name. */
const OTHER_DTYPES = new Set(['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'I64', 'U64']);

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The failure to read safetensors bytes: `source` names the file or buffer, `reason` what is wrong with it. */
export class SafetensorsError extends Error {
  constructor(readonly source: string, readonly reason: string) {
    super(`cannot load safetensors ${source}: ${reason}`);
    this.name = 'SafetensorsError';
  }
}

// Writing

/** One tensor's place in a file being written. */
interface PlannedTensor {
  name: string;
  dtype: SupportedDtype;
  shape: number[];
  values: Float32Array | Float64Array;
  begin: number;
  end: number;
}

/**
 * Serializes tensors (a state dict) and optional string metadata into the bytes of a
 * safetensors file. Tensors are ordered as the reference implementation orders them, F64
 * before F32 and then by name, so that every F64 tensor starts at a multiple of 8 bytes.
 *
 * serializeSafetensors({ w: tensor([1, 2]) }) has 8 + 56 header bytes and 8 data bytes.
 */
export function serializeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const planned = planTensors(tensors);
  const header = encodeHeader(planned, metadata);
  const dataLength = planned.length > 0 ? planned[planned.length - 1].end : 0;

  const bytes = new Uint8Array(HEADER_LENGTH_BYTES + header.length + dataLength);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, HEADER_LENGTH_BYTES);

  const dataStart = HEADER_LENGTH_BYTES + header.length;
  for (const entry of planned) writeLittleEndian(view, dataStart + entry.begin, entry.values);
  return bytes;
}

/** Checks the tensors, sorts them as the reference implementation does and assigns their byte ranges. */
function planTensors(tensors: Record<string, Tensor>): PlannedTensor[] {
  const entries = Object.entries(tensors).map(([name, value]) => {
    if (name === METADATA_KEY) throw new Error(`serializeSafetensors: '${METADATA_KEY}' is reserved for metadata and cannot name a tensor`);
    if (!(value instanceof Tensor)) throw new Error(`serializeSafetensors: '${name}' is not a Tensor`);
    const dtype: SupportedDtype = value.dtype === 'float64' ? 'F64' : 'F32';
    return { name, dtype, shape: value.shape.slice(), values: value.toTypedArray() };
  });

  const encoder = new TextEncoder();
  const nameBytes = new Map(entries.map((entry) => [entry.name, encoder.encode(entry.name)]));
  entries.sort((a, b) => SUPPORTED_DTYPES[b.dtype] - SUPPORTED_DTYPES[a.dtype] || compareBytes(nameBytes.get(a.name)!, nameBytes.get(b.name)!));

  let offset = 0;
  return entries.map((entry) => {
    const begin = offset;
    offset += entry.values.byteLength;
    return { ...entry, begin, end: offset };
  });
}

/** Orders byte strings as Rust orders UTF-8 strings, which is not the UTF-16 order of JavaScript's `<`. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Encodes the header JSON, metadata first, then the tensors in file order, padded with spaces to a multiple of 8 bytes. */
function encodeHeader(planned: PlannedTensor[], metadata: Record<string, string> | undefined): Uint8Array {
  // The members are joined by hand because a JavaScript object would move integer-like keys such as "0" to the front.
  const members: string[] = [];
  if (metadata !== undefined) {
    const pairs = Object.entries(metadata).map(([key, value]) => {
      if (typeof value !== 'string') throw new Error(`serializeSafetensors: metadata '${key}' is ${typeof value}; metadata values must be strings`);
      return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
    });
    members.push(`${JSON.stringify(METADATA_KEY)}:{${pairs.join(',')}}`);
  }
  for (const { name, dtype, shape, begin, end } of planned) {
    members.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape, data_offsets: [begin, end] })}`);
  }

  const json = new TextEncoder().encode(`{${members.join(',')}}`);
  const padding = (HEADER_ALIGNMENT - (json.length % HEADER_ALIGNMENT)) % HEADER_ALIGNMENT;
  const header = new Uint8Array(json.length + padding).fill(0x20);
  header.set(json);
  return header;
}

function writeLittleEndian(view: DataView, offset: number, values: Float32Array | Float64Array): void {
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(view.buffer, offset, values.byteLength).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return;
  }
  const width = values.BYTES_PER_ELEMENT;
  for (let i = 0; i < values.length; i++) {
    if (width === 8) view.setFloat64(offset + i * width, values[i], true);
    else view.setFloat32(offset + i * width, values[i], true);
  }
}

// Reading

/** One tensor entry of a header, checked. */
interface HeaderEntry {
  name: string;
  dtype: SupportedDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses the bytes of a safetensors file into float32 (F32) and float64 (F64) tensors and the
 * file's metadata. The whole file is checked before any tensor is made, and a malformed file
 * throws a SafetensorsError naming `options.source` and the reason.
 *
 * parseSafetensors(serializeSafetensors({ w: tensor([1, 2]) })).tensors.w is [1, 2].
 */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer, options: ParseSafetensorsOptions = {}): SafetensorsContent {
  const source = options.source === undefined ? 'data' : `'${options.source}'`;
  const fail = (reason: string): never => {
    throw new SafetensorsError(source, reason);
  };
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);

  const headerLength = readHeaderLength(data, fail);
  const header = decodeHeader(data.subarray(HEADER_LENGTH_BYTES, HEADER_LENGTH_BYTES + headerLength), fail);
  const buffer = data.subarray(HEADER_LENGTH_BYTES + headerLength);
  const { entries, metadata } = readHeader(header, fail);
  checkCoverage(entries, buffer.length, fail);

  // Object.fromEntries defines each name as an own property, so a tensor named "__proto__" stays a tensor.
  const tensors = Object.fromEntries(entries.map((entry) => [entry.name, new Tensor(readLittleEndian(buffer, entry), entry.shape)]));
  return { tensors, metadata };
}

function readHeaderLength(data: Uint8Array, fail: (reason: string) => never): number {
  if (data.length < HEADER_LENGTH_BYTES) {
    fail(`the file has ${data.length} bytes, fewer than the ${HEADER_LENGTH_BYTES} bytes of the header length`);
  }
  const length = new DataView(data.buffer, data.byteOffset, HEADER_LENGTH_BYTES).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    fail(`the header length ${length} bytes exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  if (length > BigInt(data.length - HEADER_LENGTH_BYTES)) {
    fail(`the header length ${length} bytes goes beyond the end of the file, which has ${data.length} bytes`);
  }
  return Number(length);
}

function decodeHeader(headerBytes: Uint8Array, fail: (reason: string) => never): JsonObject {
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail('the header is not valid UTF-8');
  }

  let header: JsonValue = null;
  try {
    header = parseStrictJson(text);
  } catch (error) {
    fail(`the header is not valid JSON: ${(error as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(`the header must be a JSON object, got ${describeJson(header)}`);
  }
  return header as JsonObject;
}

function readHeader(header: JsonObject, fail: (reason: string) => never): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const name of Object.keys(header)) {
    if (name === METADATA_KEY) metadata = readMetadata(header[name], fail);
    else entries.push(readEntry(name, header[name], fail));
  }
  return { entries, metadata };
}

function readMetadata(value: JsonValue, fail: (reason: string) => never): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(`'${METADATA_KEY}' must be an object of strings, got ${describeJson(value)}`);
  }
  const pairs = Object.entries(value as JsonObject).map(([key, item]) => {
    if (typeof item !== 'string') fail(`'${METADATA_KEY}' entry '${key}' must be a string, got ${describeJson(item)}`);
    return [key, item as string] as const;
  });
  return Object.fromEntries(pairs);
}

function readEntry(name: string, value: JsonValue, fail: (reason: string) => never): HeaderEntry {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail(`tensor '${name}' must be described by an object, got ${describeJson(value)}`);
  }
  const info = value as JsonObject;
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!(field in info)) fail(`tensor '${name}' has no '${field}' field`);
  }

  const dtype = info.dtype;
  if (typeof dtype !== 'string') fail(`tensor '${name}' has dtype ${describeJson(dtype)}; it must be a string such as "F32"`);
  if (!(dtype in SUPPORTED_DTYPES)) {
    if (OTHER_DTYPES.has(dtype as string)) fail(`tensor '${name}' has dtype ${dtype}, which metagrad does not read; save it as F32 or F64`);
    fail(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
  }

  const shape = info.shape;
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    fail(`tensor '${name}' has shape ${JSON.stringify(shape)}; it must be a list of non-negative integers`);
  }
  const offsets = info.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || (offsets[0] as number) > (offsets[1] as number)) {
    fail(`tensor '${name}' has data_offsets ${JSON.stringify(offsets)}; they must be two integers [begin, end] with 0 <= begin <= end`);
  }

  const entry = { name, dtype: dtype as SupportedDtype, shape: shape as number[], begin: (offsets as number[])[0], end: (offsets as number[])[1] };
  const expectedBytes = entry.shape.reduce((product, dim) => product * dim, SUPPORTED_DTYPES[entry.dtype]);
  if (expectedBytes !== entry.end - entry.begin) {
    fail(
      `tensor '${name}' of dtype ${entry.dtype} and shape ${formatShape(entry.shape)} needs ${expectedBytes} bytes, ` +
        `but its data_offsets [${entry.begin}, ${entry.end}] span ${entry.end - entry.begin}`,
    );
  }
  return entry;
}

/** Checks that the tensors' byte ranges tile the data buffer: in range, without overlaps or gaps. */
function checkCoverage(entries: HeaderEntry[], bufferLength: number, fail: (reason: string) => never): void {
  for (const entry of entries) {
    if (entry.end > bufferLength) {
      fail(`tensor '${entry.name}' has data_offsets [${entry.begin}, ${entry.end}] beyond the data buffer of ${bufferLength} bytes`);
    }
  }

  const ordered = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: HeaderEntry | undefined;
  for (const entry of ordered) {
    if (entry.begin < covered && previous) {
      fail(`tensors '${previous.name}' [${previous.begin}, ${previous.end}] and '${entry.name}' [${entry.begin}, ${entry.end}] overlap`);
    }
    if (entry.begin > covered) fail(`bytes [${covered}, ${entry.begin}] of the data buffer belong to no tensor`);
    covered = entry.end;
    previous = entry;
  }
  if (covered < bufferLength) fail(`bytes [${covered}, ${bufferLength}] of the data buffer belong to no tensor`);
}

function readLittleEndian(buffer: Uint8Array, entry: HeaderEntry): Float32Array | Float64Array {
  const width = SUPPORTED_DTYPES[entry.dtype];
  const count = (entry.end - entry.begin) / width;
  const values = width === 8 ? new Float64Array(count) : new Float32Array(count);
  const bytes = buffer.subarray(entry.begin, entry.end);
  if (LITTLE_ENDIAN_HOST) {
    // Copying through a byte view also aligns the values, which may start at any offset in the file.
    new Uint8Array(values.buffer).set(bytes);
    return values;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) values[i] = width === 8 ? view.getFloat64(i * width, true) : view.getFloat32(i * width, true);
  return values;
}

function isCount(value: JsonValue): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describeJson(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `the ${typeof value} ${JSON.stringify(value)}`;
}
