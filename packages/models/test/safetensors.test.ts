import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Tensor, randn, tensor } from '@metagrad/autodiff';
import {
  Linear, MAX_HEADER_BYTES, MultiheadAttention, SafetensorsError, loadSafetensors, parseSafetensors, saveSafetensors, serializeSafetensors,
} from '@metagrad/models';

const encoder = new TextEncoder();

/** Builds file bytes from a header text and data bytes: the little-endian header length, the header, the data. */
function fileBytes(header: string, data: ArrayLike<number> = [], headerLength?: bigint): Uint8Array {
  const headerBytes = encoder.encode(header);
  const bytes = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, headerLength ?? BigInt(headerBytes.length), true);
  bytes.set(headerBytes, 8);
  bytes.set(Array.from(data), 8 + headerBytes.length);
  return bytes;
}

/** A file whose header is '{"?"}' with the ? replaced by the byte 0xff, which UTF-8 never uses. */
function invalidUtf8Header(): Uint8Array {
  const bytes = fileBytes('{"?"}');
  bytes[10] = 0xff;
  return bytes;
}

function hex(text: string): number[] {
  return text.match(/../g)!.map((pair) => parseInt(pair, 16));
}

/**
 * A file holding a.weight = float32 [1, -2] and b = float64 [0.5] with metadata {format: 'pt'},
 * written by hand from the format description: compact JSON with the metadata first, F64
 * tensors before F32 ones, the header padded with spaces to a multiple of 8 bytes.
 */
const REFERENCE_HEADER =
  '{"__metadata__":{"format":"pt"},"b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
  '"a.weight":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}      ';
const REFERENCE_DATA = hex('000000000000e03f' + '0000803f' + '000000c0');

describe('serializeSafetensors', () => {
  // Expected bytes of the reference implementation's own tests (huggingface/safetensors, safetensors/src/tensor.rs).
  test('matches the reference bytes', () => {
    const values = tensor([0, 1, 2, 3, 4, 5], { shape: [1, 2, 3] });
    expect(Array.from(serializeSafetensors({ 'attn.0': values }))).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
      116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
      58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
      101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
  });

  test('matches the reference padding', () => {
    const values = tensor([0, 1, 2, 3, 4, 5], { shape: [1, 1, 2, 3] });
    expect(Array.from(serializeSafetensors({ attn0: values }))).toEqual([
      72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
      121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
      91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
      115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
      32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
      160, 64,
    ]);
  });

  test('matches the reference empty files', () => {
    expect(Array.from(serializeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect(Array.from(serializeSafetensors({}, { framework: 'pt' }))).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
      95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
      116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
  });

  test('writes the reference layout', () => {
    const bytes = serializeSafetensors({ 'a.weight': tensor([1, -2]), b: tensor([0.5], { dtype: 'float64' }) }, { format: 'pt' });
    expect(Array.from(bytes)).toEqual(Array.from(fileBytes(REFERENCE_HEADER, REFERENCE_DATA)));
  });

  test('omits absent metadata', () => {
    const bytes = serializeSafetensors({ w: tensor([1, 2]) });
    const header = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  ';
    expect(Array.from(bytes)).toEqual(Array.from(fileBytes(header, hex('0000803f00000040'))));
  });

  test('pads every header to 8 bytes', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 12 })), fc.string({ minLength: 1, maxLength: 20 }), (metadata, name) => {
        fc.pre(name !== '__metadata__');
        const bytes = serializeSafetensors({ [name]: tensor([1]) }, metadata);
        const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
        expect(headerLength % 8).toBe(0);
        expect(bytes.length).toBe(8 + headerLength + 4);
      }),
      { numRuns: 50 },
    );
  });

  test('orders tensors by dtype then by name', () => {
    const bytes = serializeSafetensors({ z: tensor([1]), b: tensor([2]), a: tensor([3], { dtype: 'float64' }), '10': tensor([4]), '9': tensor([5]) });
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))));
    const names = [...header.matchAll(/"([^"]+)":\{"dtype"/g)].map((match) => match[1]);
    expect(names).toEqual(['a', '10', '9', 'b', 'z']);
  });

  test('writes strided tensors in row-major order', () => {
    const matrix = tensor([[1, 2, 3], [4, 5, 6]]).transpose(0, 1);
    const { tensors } = parseSafetensors(serializeSafetensors({ m: matrix }));
    expect(tensors.m.toArray()).toEqual([[1, 4], [2, 5], [3, 6]]);
  });

  test('rejects a reserved name and non-string metadata', () => {
    expect(() => serializeSafetensors({ __metadata__: tensor([1]) })).toThrow("'__metadata__' is reserved for metadata");
    expect(() => serializeSafetensors({ w: tensor([1]) }, { epochs: 3 as unknown as string })).toThrow("metadata 'epochs' is number; metadata values must be strings");
  });
});

describe('parseSafetensors', () => {
  test('reads the reference layout', () => {
    const { tensors, metadata } = parseSafetensors(fileBytes(REFERENCE_HEADER, REFERENCE_DATA));
    expect(metadata).toEqual({ format: 'pt' });
    expect(Object.keys(tensors).sort()).toEqual(['a.weight', 'b']);
    expect(tensors['a.weight'].dtype).toBe('float32');
    expect(tensors['a.weight'].toArray()).toEqual([1, -2]);
    expect(tensors.b.dtype).toBe('float64');
    expect(tensors.b.toArray()).toEqual([0.5]);
  });

  test('reads an unaligned F64 tensor', () => {
    const header = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F64","shape":[1],"data_offsets":[4,12]}}';
    const { tensors } = parseSafetensors(fileBytes(header, hex('0000803f' + '000000000000e03f')));
    expect(tensors.b.toArray()).toEqual([0.5]);
  });

  test('reads bytes at an offset of a larger buffer', () => {
    const bytes = fileBytes(REFERENCE_HEADER, REFERENCE_DATA);
    const larger = new Uint8Array(bytes.length + 3);
    larger.set(bytes, 3);
    expect(parseSafetensors(larger.subarray(3)).tensors.b.toArray()).toEqual([0.5]);
  });

  test('round trip is exact', () => {
    fc.assert(
      fc.property(fc.float32Array({ maxLength: 20 }), fc.float64Array({ maxLength: 20 }), (single, double) => {
        const input = { single: new Tensor(single, [single.length]), double: new Tensor(double, [double.length]) };
        const { tensors } = parseSafetensors(serializeSafetensors(input));
        expect(tensors.single.dtype).toBe('float32');
        expect(tensors.double.dtype).toBe('float64');
        expect(Array.from(tensors.single.toTypedArray())).toEqual(Array.from(single));
        expect(Array.from(tensors.double.toTypedArray())).toEqual(Array.from(double));
      }),
      { numRuns: 100 },
    );
  });

  test('round trip keeps shapes', () => {
    const input = { scalar: tensor(3), empty: tensor([], { shape: [0, 4] }), cube: randn([2, 3, 4], { seed: 1 }) };
    const { tensors } = parseSafetensors(serializeSafetensors(input));
    expect(tensors.scalar.shape).toEqual([]);
    expect(tensors.scalar.item()).toBe(3);
    expect(tensors.empty.shape).toEqual([0, 4]);
    expect(tensors.cube.toArray()).toEqual(input.cube.toArray());
  });

  test('metadata round trip', () => {
    const metadata = { format: 'pt', '0': 'integer-like key', note: 'ünïcode \u2603 "quoted"\n', empty: '' };
    expect(parseSafetensors(serializeSafetensors({ w: tensor([1]) }, metadata)).metadata).toEqual(metadata);
    expect(parseSafetensors(serializeSafetensors({ w: tensor([1]) })).metadata).toEqual({});
  });

  test('empty state dict', () => {
    const bytes = serializeSafetensors({});
    expect(Array.from(bytes)).toEqual(Array.from(fileBytes('{}      ')));
    expect(parseSafetensors(bytes)).toEqual({ tensors: {}, metadata: {} });
  });

  test('names the source in errors', () => {
    const run = () => parseSafetensors(new Uint8Array(3), { source: 'weights.safetensors' });
    expect(run).toThrow(SafetensorsError);
    expect(run).toThrow("cannot load safetensors 'weights.safetensors': the file has 3 bytes, fewer than the 8 bytes of the header length");
    expect(() => parseSafetensors(new Uint8Array(3))).toThrow('cannot load safetensors data: the file has 3 bytes');
  });
});

describe('parseSafetensors malformed files', () => {
  const entry = (dtype: string, shape: number[], begin: number, end: number) => JSON.stringify({ dtype, shape, data_offsets: [begin, end] });
  const eightBytes = new Array(8).fill(0);

  const cases: Array<[string, Uint8Array, string]> = [
    ['header length beyond the file', fileBytes('{}', [], 1000n), 'the header length 1000 bytes goes beyond the end of the file, which has 10 bytes'],
    ['header over the size cap', fileBytes('{}', [], BigInt(MAX_HEADER_BYTES + 1)), 'the header length 100000001 bytes exceeds the limit of 100000000 bytes'],
    ['header length near 2^64', fileBytes('{}', [], 2n ** 64n - 1n), 'exceeds the limit of 100000000 bytes'],
    ['invalid UTF-8', invalidUtf8Header(), 'the header is not valid UTF-8'],
    ['invalid JSON', fileBytes('{"w": '), 'the header is not valid JSON: unexpected end of the text at position 6'],
    ['trailing garbage', fileBytes('{} x'), 'the header is not valid JSON: unexpected text after the JSON value at position 3'],
    ['header an array', fileBytes('[]'), 'the header must be a JSON object, got an array'],
    ['header a string', fileBytes('"w"'), 'the header must be a JSON object, got the string "w"'],
    ['duplicate tensor', fileBytes(`{"w":${entry('F32', [1], 0, 4)},"w":${entry('F32', [1], 4, 8)}}`, eightBytes), 'duplicate key "w"'],
    ['duplicate field', fileBytes('{"w":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), 'duplicate key "dtype"'],
    ['missing dtype', fileBytes('{"w":{"shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), "tensor 'w' has no 'dtype' field"],
    ['missing shape', fileBytes('{"w":{"dtype":"F32","data_offsets":[0,4]}}', [0, 0, 0, 0]), "tensor 'w' has no 'shape' field"],
    ['missing offsets', fileBytes('{"w":{"dtype":"F32","shape":[1]}}', [0, 0, 0, 0]), "tensor 'w' has no 'data_offsets' field"],
    ['entry not an object', fileBytes('{"w":[1, 2]}'), "tensor 'w' must be described by an object, got an array"],
    ['unknown dtype', fileBytes(`{"w":${entry('F128', [1], 0, 16)}}`, new Array(16).fill(0)), 'tensor \'w\' has unknown dtype "F128"'],
    ['F16 by name', fileBytes(`{"w":${entry('F16', [2], 0, 4)}}`, [0, 0, 0, 0]), "tensor 'w' has dtype F16, which metagrad does not read; save it as F32 or F64"],
    ['BF16 by name', fileBytes(`{"w":${entry('BF16', [2], 0, 4)}}`, [0, 0, 0, 0]), "tensor 'w' has dtype BF16, which metagrad does not read"],
    ['I64 by name', fileBytes(`{"w":${entry('I64', [1], 0, 8)}}`, eightBytes), "tensor 'w' has dtype I64, which metagrad does not read"],
    ['dtype not a string', fileBytes('{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), "tensor 'w' has dtype the number 4"],
    ['negative shape', fileBytes(`{"w":${entry('F32', [-1], 0, 4)}}`, [0, 0, 0, 0]), "tensor 'w' has shape [-1]; it must be a list of non-negative integers"],
    ['fractional shape', fileBytes(`{"w":${entry('F32', [1.5], 0, 4)}}`, [0, 0, 0, 0]), "tensor 'w' has shape [1.5]"],
    ['shape against bytes', fileBytes(`{"w":${entry('F32', [2, 3], 0, 8)}}`, eightBytes), "tensor 'w' of dtype F32 and shape [2, 3] needs 24 bytes, but its data_offsets [0, 8] span 8"],
    ['offsets reversed', fileBytes(`{"w":${entry('F32', [1], 8, 4)}}`, eightBytes), "tensor 'w' has data_offsets [8,4]; they must be two integers [begin, end] with 0 <= begin <= end"],
    ['three offsets', fileBytes('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', eightBytes), "tensor 'w' has data_offsets [0,4,8]"],
    ['offsets out of range', fileBytes(`{"w":${entry('F32', [2], 4, 12)}}`, eightBytes), "tensor 'w' has data_offsets [4, 12] beyond the data buffer of 8 bytes"],
    ['overlapping tensors', fileBytes(`{"a":${entry('F32', [2], 0, 8)},"b":${entry('F32', [1], 4, 8)}}`, eightBytes), "tensors 'a' [0, 8] and 'b' [4, 8] overlap"],
    ['gap between tensors', fileBytes(`{"a":${entry('F32', [1], 0, 4)},"b":${entry('F32', [1], 8, 12)}}`, new Array(12).fill(0)), 'bytes [4, 8] of the data buffer belong to no tensor'],
    ['uncovered tail', fileBytes(`{"a":${entry('F32', [1], 0, 4)}}`, eightBytes), 'bytes [4, 8] of the data buffer belong to no tensor'],
    ['metadata not strings', fileBytes('{"__metadata__":{"epochs":3}}'), "'__metadata__' entry 'epochs' must be a string, got the number 3"],
    ['metadata an array', fileBytes('{"__metadata__":["a"]}'), "'__metadata__' must be an object of strings, got an array"],
  ];

  test.each(cases)('%s', (_label, bytes, reason) => {
    const run = () => parseSafetensors(bytes, { source: 'broken.safetensors' });
    expect(run).toThrow(SafetensorsError);
    expect(run).toThrow(`cannot load safetensors 'broken.safetensors': `);
    expect(run).toThrow(reason);
  });

  test('error carries source and reason', () => {
    try {
      parseSafetensors(fileBytes('[]'), { source: 'broken.safetensors' });
      throw new Error('expected parseSafetensors to throw');
    } catch (error) {
      expect(error).toBeInstanceOf(SafetensorsError);
      expect((error as SafetensorsError).source).toBe("'broken.safetensors'");
      expect((error as SafetensorsError).reason).toBe('the header must be a JSON object, got an array');
    }
  });

  test('tensor named __proto__ stays a tensor', () => {
    const { tensors } = parseSafetensors(fileBytes(`{"__proto__":${entry('F32', [1], 0, 4)}}`, hex('0000803f')));
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect(tensors.__proto__).toBeInstanceOf(Tensor);
  });
});

describe('saveSafetensors and loadSafetensors', () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'metagrad-safetensors-'));
  });
  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  test('file round trip of a state dict', () => {
    const path = join(directory, 'attention.safetensors');
    const source = new MultiheadAttention(4, 2, { seed: 1 });
    saveSafetensors(source.stateDict(), path, { model: 'attention' });
    expect(readdirSync(directory)).toEqual(['attention.safetensors']);
    expect(Array.from(readFileSync(path))).toEqual(Array.from(serializeSafetensors(source.stateDict(), { model: 'attention' })));

    const { tensors, metadata } = loadSafetensors(path);
    expect(metadata).toEqual({ model: 'attention' });
    const target = new MultiheadAttention(4, 2, { seed: 2 });
    target.loadStateDict(tensors);
    for (const [name, value] of Object.entries(source.stateDict())) expect(target.stateDict()[name].toArray()).toEqual(value.toArray());
  });

  test('float64 file loads into a float32 model', () => {
    const path = join(directory, 'double.safetensors');
    const double = new Linear(3, 2, { dtype: 'float64', seed: 4 });
    saveSafetensors(double.stateDict(), path);
    const single = new Linear(3, 2, { seed: 5 });
    single.loadStateDict(loadSafetensors(path).tensors);
    expect(single.weight.dtype).toBe('float32');
    expect(Array.from(single.weight.toTypedArray())).toEqual(Array.from(Float32Array.from(double.weight.toTypedArray())));
  });

  test('malformed file names its path', () => {
    const path = join(directory, 'broken.safetensors');
    writeFileSync(path, fileBytes('{"w":', []));
    expect(() => loadSafetensors(path)).toThrow(`cannot load safetensors '${path}': the header is not valid JSON`);
  });

  test('failed load leaves the model unchanged', () => {
    const model = new Linear(3, 2, { seed: 6 });
    const before = model.weight.toArray();

    const truncated = join(directory, 'truncated.safetensors');
    const bytes = serializeSafetensors(new Linear(3, 2, { seed: 7 }).stateDict());
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 4));
    expect(() => model.loadStateDict(loadSafetensors(truncated).tensors)).toThrow(SafetensorsError);
    expect(model.weight.toArray()).toEqual(before);

    const wrongShape = join(directory, 'wrong-shape.safetensors');
    saveSafetensors({ weight: tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), bias: tensor([9, 9]) }, wrongShape);
    expect(() => model.loadStateDict(loadSafetensors(wrongShape).tensors)).toThrow("'weight' has shape [3, 3] in the state but [2, 3] in the module; nothing was loaded");
    expect(model.weight.toArray()).toEqual(before);
    expect(model.bias!.toArray()).not.toEqual([9, 9]);
  });

  test('missing file reports the path', () => {
    const path = join(directory, 'absent.safetensors');
    expect(() => loadSafetensors(path)).toThrow(path);
  });

  test('failed save leaves no temporary file', () => {
    const path = join(directory, 'no-such-folder', 'model.safetensors');
    expect(() => saveSafetensors({ w: tensor([1]) }, path)).toThrow();
    expect(readdirSync(directory)).toEqual([]);
  });
});
