/**
 * The IDX file format, which MNIST and Fashion-MNIST are distributed in.
 *
 * Layout (every integer big-endian):
 *   bytes 0-1   zero
 *   byte  2     data type code (see IDX_TYPES)
 *   byte  3     number of dimensions, d
 *   next 4*d    the size of each dimension, as unsigned 32-bit integers
 *   the rest    the elements in row-major order, each in the type's big-endian encoding
 *
 * So the first four bytes, read as one integer, are (type << 8) | d: MNIST's image files start
 * 00 00 08 03 (0x00000803) and its label files 00 00 08 01. Files may be gzip-compressed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';

/** Element types of IDX files: each dtype name mapped to the typed array that stores its elements. */
export interface IdxDataTypes {
  uint8: Uint8Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  float32: Float32Array;
  float64: Float64Array;
}

export type IdxDtype = keyof IdxDataTypes;

/** A decoded IDX array: `data` contains the elements in row-major order, and `shape` their dimensions. */
export type IdxArray<D extends IdxDtype = IdxDtype> = {
  [K in D]: { dtype: K; shape: number[]; data: IdxDataTypes[K] };
}[D];

interface IdxType {
  code: number;
  dtype: IdxDtype;
  /** The name the IDX format description gives the type. */
  idxName: string;
  bytesPerElement: number;
}

const IDX_TYPES: readonly IdxType[] = [
  { code: 0x08, dtype: 'uint8', idxName: 'unsigned byte', bytesPerElement: 1 },
  { code: 0x09, dtype: 'int8', idxName: 'signed byte', bytesPerElement: 1 },
  { code: 0x0b, dtype: 'int16', idxName: 'short (2 bytes)', bytesPerElement: 2 },
  { code: 0x0c, dtype: 'int32', idxName: 'int (4 bytes)', bytesPerElement: 4 },
  { code: 0x0d, dtype: 'float32', idxName: 'float (4 bytes)', bytesPerElement: 4 },
  { code: 0x0e, dtype: 'float64', idxName: 'double (8 bytes)', bytesPerElement: 8 },
];

/**
 * The maximum number of dimensions accepted. The header byte allows up to 255, but MNIST-style
 * files have 1 (labels) or 3 (images), and 4 leaves room for images with channels. A larger count
 * more likely comes from a corrupt header or a file that is not IDX than from real data.
 * NOTE: a valid IDX file with 5 or more dimensions is rejected too, so raise this limit to read one.
 */
export const MAX_IDX_DIMENSIONS = 4;

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Reads an IDX file, plain or gzip-compressed, and checks its header against its length.
 * Gzip is recognised by the bytes 1f 8b at the start or by a .gz suffix.
 * Throws, naming the path and the reason, for a missing, unreadable, truncated or corrupt file.
 *
 * readIdx('data/train-labels-idx1-ubyte')
 *   // { dtype: 'uint8', shape: [60000], data: Uint8Array [5, 0, 4, ...] }
 */
export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array = readBytes(path);

  if (isGzip(bytes) || path.endsWith('.gz')) {
    bytes = gunzip(bytes, path);
  }

  return decodeIdx(bytes, path);
}

/**
 * Writes `array` as an IDX file, gzip-compressed when `gzip` is true or the path ends in .gz.
 *
 * writeIdx('/tmp/labels-idx1-ubyte.gz', { dtype: 'uint8', shape: [3], data: new Uint8Array([1, 2, 3]) })
 */
export function writeIdx(path: string, array: IdxArray, options: { gzip?: boolean } = {}): void {
  const bytes = encodeIdx(array);
  const compress = options.gzip ?? path.endsWith('.gz');
  writeFileSync(path, compress ? gzipSync(bytes) : bytes);
}

/**
 * Decodes the bytes of an uncompressed IDX file. `source` names the bytes in error messages.
 * For uint8 the result's `data` is a view on `bytes`, not a copy.
 *
 * decodeIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]), 'example')
 *   // { dtype: 'uint8', shape: [2], data: Uint8Array [7, 9] }
 */
export function decodeIdx(bytes: Uint8Array, source: string): IdxArray {
  const { type, shape, headerLength } = decodeHeader(bytes, source);

  // BigInt, because four 32-bit sizes can multiply past 2^53, where a number loses exactness.
  const count = shape.reduce((product, size) => product * BigInt(size), 1n);
  const expectedBytes = BigInt(headerLength) + count * BigInt(type.bytesPerElement);
  if (expectedBytes !== BigInt(bytes.length)) {
    const hint = expectedBytes > BigInt(bytes.length) ? '; the file is probably truncated' : '';
    throw invalidIdx(
      source,
      `size mismatch: shape [${shape.join(', ')}] of ${type.idxName} needs ${expectedBytes} bytes ` +
        `(${headerLength} header + ${count} x ${type.bytesPerElement}), but the file has ${bytes.length} bytes${hint}`,
    );
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = decodeElements(view, headerLength, Number(count), type.dtype);
  return { dtype: type.dtype, shape, data } as IdxArray;
}

/** Checks the magic number and reads the dimension sizes that follow it. */
function decodeHeader(bytes: Uint8Array, source: string): { type: IdxType; shape: number[]; headerLength: number } {
  if (bytes.length < 4) {
    throw invalidIdx(source, `file is truncated: it has ${bytes.length} bytes, but an IDX header needs at least 4`);
  }
  const magic = formatBytes(bytes.subarray(0, 4));
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw invalidIdx(source, `bad magic number ${magic}: an IDX file starts with 00 00, then the type code and the number of dimensions`);
  }

  const type = IDX_TYPES.find((candidate) => candidate.code === bytes[2]);
  if (type === undefined) {
    const known = IDX_TYPES.map((t) => `${hex(t.code)} ${t.idxName}`).join(', ');
    throw invalidIdx(source, `unknown data type code ${hex(bytes[2])} in the magic number ${magic}; known codes: ${known}`);
  }

  const ndim = bytes[3];
  if (ndim === 0 || ndim > MAX_IDX_DIMENSIONS) {
    throw invalidIdx(source, `invalid number of dimensions ${ndim} in the magic number ${magic}: expected 1 to ${MAX_IDX_DIMENSIONS}`);
  }
  const headerLength = 4 + 4 * ndim;
  if (bytes.length < headerLength) {
    throw invalidIdx(source, `file is truncated: it has ${bytes.length} bytes, but the header of a ${ndim}-dimensional IDX file needs ${headerLength}`);
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let axis = 0; axis < ndim; axis++) {
    shape.push(view.getUint32(4 + 4 * axis, false));
  }
  return { type, shape, headerLength };
}

/** Encodes `array` as the bytes of an uncompressed IDX file. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const type = IDX_TYPES.find((candidate) => candidate.dtype === array.dtype);
  if (type === undefined) {
    throw new Error(`encodeIdx: unknown dtype '${String(array.dtype)}'; expected one of ${IDX_TYPES.map((t) => t.dtype).join(', ')}`);
  }
  const { shape, data } = array;
  if (shape.length === 0 || shape.length > MAX_IDX_DIMENSIONS) {
    throw new Error(`encodeIdx: shape [${shape.join(', ')}] has ${shape.length} dimensions; IDX files here have 1 to ${MAX_IDX_DIMENSIONS}`);
  }
  if (shape.some((size) => !Number.isInteger(size) || size < 0 || size > 0xffffffff)) {
    throw new Error(`encodeIdx: shape [${shape.join(', ')}] must contain integers from 0 to 2^32 - 1`);
  }
  const count = shape.reduce((product, size) => product * size, 1);
  if (count !== data.length) {
    throw new Error(`encodeIdx: shape [${shape.join(', ')}] has ${count} elements but data has ${data.length}`);
  }

  const headerLength = 4 + 4 * shape.length;
  const bytes = new Uint8Array(headerLength + count * type.bytesPerElement);
  const view = new DataView(bytes.buffer);
  bytes[2] = type.code;
  bytes[3] = shape.length;
  shape.forEach((size, axis) => view.setUint32(4 + 4 * axis, size, false));

  encodeElements(view, headerLength, array);
  return bytes;
}

function readBytes(path: string): Uint8Array {
  if (!existsSync(path)) {
    throw new Error(`IDX file ${path} not found; check the path`);
  }
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`IDX file ${path}: reading failed: ${(error as Error).message}`);
  }
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

function gunzip(bytes: Uint8Array, path: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw new Error(`IDX file ${path}: gzip stream failed to decompress: ${(error as Error).message}`);
  }
}

/** Copies `count` big-endian elements starting at `start` into a typed array of `dtype`. */
function decodeElements(view: DataView, start: number, count: number, dtype: IdxDtype): IdxDataTypes[IdxDtype] {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(view.buffer, view.byteOffset + start, count);
    case 'int8':
      return new Int8Array(view.buffer, view.byteOffset + start, count);
    case 'int16': {
      const data = new Int16Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getInt16(start + 2 * i, false);
      return data;
    }
    case 'int32': {
      const data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getInt32(start + 4 * i, false);
      return data;
    }
    case 'float32': {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(start + 4 * i, false);
      return data;
    }
    case 'float64': {
      const data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(start + 8 * i, false);
      return data;
    }
  }
}

/** Writes the elements of `array` big-endian from `start` on. */
function encodeElements(view: DataView, start: number, array: IdxArray): void {
  const { data } = array;
  switch (array.dtype) {
    case 'uint8':
    case 'int8':
      new Uint8Array(view.buffer, start, data.length).set(new Uint8Array(data.buffer, data.byteOffset, data.length));
      return;
    case 'int16':
      for (let i = 0; i < data.length; i++) view.setInt16(start + 2 * i, data[i], false);
      return;
    case 'int32':
      for (let i = 0; i < data.length; i++) view.setInt32(start + 4 * i, data[i], false);
      return;
    case 'float32':
      for (let i = 0; i < data.length; i++) view.setFloat32(start + 4 * i, data[i], false);
      return;
    case 'float64':
      for (let i = 0; i < data.length; i++) view.setFloat64(start + 8 * i, data[i], false);
      return;
  }
}

function invalidIdx(source: string, reason: string): Error {
  return new Error(`IDX file ${source}: ${reason}`);
}

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, '0')}`;
}

/** Formats bytes as hex pairs, for example "1f 8b 08 00". */
function formatBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(' ');
}
