import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { type IdxArray, decodeIdx, encodeIdx, readIdx, writeIdx } from '@metagrad/data';
import { idxHeader, makeTempDir, writeBytes } from './helpers';

const temp = makeTempDir();
afterAll(() => temp.remove());

/** Reads `path` and returns the message of the error readIdx throws, failing the test if it returns. */
function readError(path: string): string {
  try {
    readIdx(path);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`readIdx(${path}) returned instead of throwing`);
}

describe('readIdx round trip', () => {
  const images: IdxArray = { dtype: 'uint8', shape: [2, 3, 4], data: Uint8Array.from({ length: 24 }, (_, i) => i * 10) };

  test('plain file', () => {
    const path = temp.file('plain-idx3-ubyte');
    writeIdx(path, images);

    expect(Array.from(readFileSync(path).subarray(0, 4))).toEqual([0, 0, 0x08, 3]);
    const result = readIdx(path);
    expect(result.dtype).toBe('uint8');
    expect(result.shape).toEqual([2, 3, 4]);
    expect(result.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(result.data)).toEqual(Array.from(images.data));
  });

  test('gzip file with .gz suffix', () => {
    const path = temp.file('gzip-idx3-ubyte.gz');
    writeIdx(path, images);

    expect(Array.from(readFileSync(path).subarray(0, 2))).toEqual([0x1f, 0x8b]);
    const result = readIdx(path);
    expect(result.shape).toEqual([2, 3, 4]);
    expect(Array.from(result.data)).toEqual(Array.from(images.data));
  });

  test('gzip file detected by its header', () => {
    const path = temp.file('gzip-without-suffix');
    writeIdx(path, images, { gzip: true });

    const result = readIdx(path);
    expect(result.shape).toEqual([2, 3, 4]);
    expect(Array.from(result.data)).toEqual(Array.from(images.data));
  });

  test('every element type', () => {
    const cases: IdxArray[] = [
      { dtype: 'uint8', shape: [3], data: new Uint8Array([0, 128, 255]) },
      { dtype: 'int8', shape: [3], data: new Int8Array([-128, 0, 127]) },
      { dtype: 'int16', shape: [2, 2], data: new Int16Array([-32768, -1, 258, 32767]) },
      { dtype: 'int32', shape: [3], data: new Int32Array([-2147483648, 16909060, 2147483647]) },
      { dtype: 'float32', shape: [1, 3], data: new Float32Array([-1.5, Math.fround(0.1), 3e38]) },
      { dtype: 'float64', shape: [3], data: new Float64Array([-0.1, Math.PI, 1e300]) },
    ];
    for (const array of cases) {
      const path = temp.file(`types-${array.dtype}.gz`);
      writeIdx(path, array);

      const result = readIdx(path);
      expect(result.dtype).toBe(array.dtype);
      expect(result.shape).toEqual(array.shape);
      expect(result.data).toEqual(array.data);
    }
  });

  test('uint8 arrays of any shape', () => {
    const arrayArb = fc
      .array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 })
      .chain((shape) => {
        const size = shape.reduce((product, n) => product * n, 1);
        return fc.tuple(fc.constant(shape), fc.uint8Array({ minLength: size, maxLength: size }));
      });
    fc.assert(
      fc.property(arrayArb, ([shape, data]) => {
        const result = decodeIdx(encodeIdx({ dtype: 'uint8', shape, data }), 'generated');
        expect(result.shape).toEqual(shape);
        expect(Array.from(result.data)).toEqual(Array.from(data));
      }),
    );
  });
});

describe('decodeIdx', () => {
  test('reads sizes and multi-byte elements big-endian', () => {
    const bytes = new Uint8Array([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]);

    const result = decodeIdx(bytes, 'example');
    expect(result.dtype).toBe('int16');
    expect(result.shape).toEqual([2]);
    expect(Array.from(result.data)).toEqual([258, -2]);
  });

  test('MNIST label header', () => {
    const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 5, 0, 4]);

    const result = decodeIdx(bytes, 'labels');
    expect(result).toEqual({ dtype: 'uint8', shape: [3], data: new Uint8Array([5, 0, 4]) });
  });
});

describe('readIdx rejects', () => {
  test('missing file', () => {
    const path = temp.file('does-not-exist-idx1-ubyte');
    expect(readError(path)).toBe(`IDX file ${path} not found; check the path`);
  });

  test('a directory', () => {
    const path = temp.file('a-directory');
    mkdirSync(path);
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('reading failed');
    expect(message).toContain('EISDIR');
  });

  test('bad magic number', () => {
    const path = temp.file('bad-magic');
    writeBytes(path, [0x12, 0x34, 0x08, 0x01], [0, 0, 0, 1], [7]);
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('bad magic number 12 34 08 01');
  });

  test('unknown data type', () => {
    const path = temp.file('unknown-type');
    writeBytes(path, idxHeader(0x0a, [1]), [7]);
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('unknown data type code 0x0a');
    expect(message).toContain('0x08 unsigned byte');
  });

  test('zero dimensions', () => {
    const path = temp.file('zero-dimensions');
    writeBytes(path, [0, 0, 0x08, 0], [7]);
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('invalid number of dimensions 0');
  });

  test('too many dimensions', () => {
    const path = temp.file('five-dimensions');
    writeBytes(path, idxHeader(0x08, [1, 1, 1, 1, 1]), [7]);
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('invalid number of dimensions 5');
    expect(message).toContain('expected 1 to 4');
  });

  test('header shorter than the magic number', () => {
    const path = temp.file('three-bytes');
    writeBytes(path, [0, 0, 8]);
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('truncated: it has 3 bytes');
  });

  test('header cut inside the sizes', () => {
    const path = temp.file('cut-header');
    writeBytes(path, idxHeader(0x08, [2, 28, 28]).subarray(0, 10));
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('truncated: it has 10 bytes');
    expect(message).toContain('needs 16');
  });

  test('truncated data', () => {
    const path = temp.file('truncated-data');
    writeBytes(path, idxHeader(0x08, [2, 2, 2]), [1, 2, 3, 4, 5, 6]);
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('size mismatch');
    expect(message).toContain('needs 24 bytes');
    expect(message).toContain('the file has 22 bytes');
    expect(message).toContain('truncated');
  });

  test('trailing bytes', () => {
    const path = temp.file('trailing-bytes');
    writeBytes(path, idxHeader(0x08, [2]), [1, 2, 3]);
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('needs 10 bytes');
    expect(message).toContain('the file has 11 bytes');
  });

  test('multi-byte elements counted by size', () => {
    const path = temp.file('short-floats');
    writeBytes(path, idxHeader(0x0d, [3]), new Uint8Array(8));
    const message = readError(path);
    expect(message).toContain('float (4 bytes)');
    expect(message).toContain('needs 20 bytes');
    expect(message).toContain('the file has 16 bytes');
  });

  test('sizes whose product passes 2^53', () => {
    const path = temp.file('huge-sizes');
    writeBytes(path, idxHeader(0x08, [0xffffffff, 0xffffffff, 2]), [1, 2]);
    const message = readError(path);
    expect(message).toContain('needs 36893488130239234066 bytes');
    expect(message).toContain('the file has 18 bytes');
  });

  test('truncated gzip stream', () => {
    const path = temp.file('truncated.gz');
    const whole = gzipSync(encodeIdx({ dtype: 'uint8', shape: [100], data: new Uint8Array(100).fill(3) }));
    writeFileSync(path, whole.subarray(0, whole.length - 6));
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('gzip stream failed to decompress');
    expect(message).toContain('unexpected end of file');
  });

  test('.gz suffix on data that is not gzip', () => {
    const path = temp.file('not-gzip-idx1-ubyte.gz');
    writeBytes(path, idxHeader(0x08, [1]), [7]);
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('gzip stream failed to decompress');
  });

  test('corrupt data inside gzip', () => {
    const path = temp.file('bad-magic.gz');
    writeFileSync(path, gzipSync(new Uint8Array([1, 2, 8, 1, 0, 0, 0, 1, 7])));
    const message = readError(path);
    expect(message).toContain(path);
    expect(message).toContain('bad magic number 01 02 08 01');
  });
});

describe('encodeIdx rejects', () => {
  test('data that does not fill the shape', () => {
    expect(() => encodeIdx({ dtype: 'uint8', shape: [2, 2], data: new Uint8Array(3) })).toThrow(
      'encodeIdx: shape [2, 2] has 4 elements but data has 3',
    );
  });

  test('no dimensions', () => {
    expect(() => encodeIdx({ dtype: 'uint8', shape: [], data: new Uint8Array(1) })).toThrow('has 0 dimensions');
  });
});
