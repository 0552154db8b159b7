import { wasmKernelText } from '@metagrad/kernels';
import { FunctionBuilder, encodeModule } from '../src/wasm/encoder';
import { webAssembly } from '../src/wasm/host';
import { Label, block, br, br_if, f32, f32x4, i32, local, loop, v128 } from '../src/wasm/instructions';
import { kernelModuleBytes } from '../src/wasm/kernel-module';
import { signedLeb128, unsignedLeb128 } from '../src/wasm/leb128';
import { forLoop } from '../src/wasm/loops';
import { printFunction, printModule } from '../src/wasm/wat';

// The package declares the WebAssembly API it uses in host.ts; the tests use the same declaration.
const wasm = webAssembly!;

/** Instantiates a module of the given functions on a fresh memory of one page. */
function instantiate(functions: ReturnType<FunctionBuilder['define']>[]) {
  const bytes = encodeModule({ memory: { initial: 1, maximum: 1, shared: false }, functions });
  expect(wasm.validate(bytes)).toBe(true);
  const memory = new wasm.Memory({ initial: 1, maximum: 1 });
  const instance = new wasm.Instance(new wasm.Module(bytes), { env: { memory } });
  return { memory, exports: instance.exports as Record<string, (...args: number[]) => number> };
}

/** sum(address, count): the sum of `count` floats at `address`, with the counted-loop pattern. */
function sumKernel() {
  const fn = new FunctionBuilder('sum', ['f32']);
  const address = fn.param('address');
  const count = fn.param('count');
  const i = fn.local('i');
  const total = fn.local('total', 'f32');
  return fn.define([
    forLoop(i, i32.const(0), local.get(count), i32.const(1),
      local.set(total, f32.add(local.get(total), f32.load(i32.add(local.get(address), i32.shl(local.get(i), i32.const(2)))))),
    ),
    local.get(total),
  ]);
}

describe('LEB128', () => {
  test('unsigned values by hand', () => {
    expect(unsignedLeb128(0)).toEqual([0x00]);
    expect(unsignedLeb128(127)).toEqual([0x7f]);
    expect(unsignedLeb128(128)).toEqual([0x80, 0x01]);
    expect(unsignedLeb128(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(unsignedLeb128(2 ** 32 - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  test('unsigned rejects values out of range', () => {
    expect(() => unsignedLeb128(-1)).toThrow('unsignedLeb128: expected an integer in [0, 2^32), got -1');
    expect(() => unsignedLeb128(2 ** 32)).toThrow(RangeError);
    expect(() => unsignedLeb128(1.5)).toThrow(RangeError);
  });

  test('signed values by hand', () => {
    expect(signedLeb128(0)).toEqual([0x00]);
    expect(signedLeb128(-1)).toEqual([0x7f]);
    expect(signedLeb128(63)).toEqual([0x3f]);
    expect(signedLeb128(64)).toEqual([0xc0, 0x00]);
    expect(signedLeb128(-64)).toEqual([0x40]);
    expect(signedLeb128(-65)).toEqual([0xbf, 0x7f]);
    expect(signedLeb128(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(signedLeb128(-(2 ** 31))).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
  });
});

describe('encoder', () => {
  test('counted loop sums floats', () => {
    const { memory, exports } = instantiate([sumKernel()]);
    new Float32Array(memory.buffer).set([1.5, 2, 3, 4, 100], 4);
    expect(exports.sum(16, 4)).toBe(10.5);
    expect(exports.sum(16, 0)).toBe(0);
  });

  test('vector instructions compute lanewise', () => {
    const fn = new FunctionBuilder('scale');
    const address = fn.param('address');
    const kernel = fn.define(
      v128.store(local.get(address), f32x4.mul(v128.load(local.get(address)), v128.load32_splat(local.get(address), 16))),
    );
    const { memory, exports } = instantiate([kernel]);
    const floats = new Float32Array(memory.buffer);
    floats.set([1, 2, 3, 4, 10]);
    exports.scale(0);
    expect(Array.from(floats.subarray(0, 4))).toEqual([10, 20, 30, 40]);
  });

  test('branches name their label at any depth', () => {
    // Returns the first i in [0, limit) with i * i >= target, or limit: br_if leaves both the
    // loop and the block around it, two levels up.
    const fn = new FunctionBuilder('root', ['i32']);
    const target = fn.param('target');
    const limit = fn.param('limit');
    const i = fn.local('i');
    const found = new Label('found');
    const next = new Label('next');
    const kernel = fn.define([
      block(found,
        loop(next,
          br_if(found, i32.ge_s(i32.mul(local.get(i), local.get(i)), local.get(target))),
          local.set(i, i32.add(local.get(i), i32.const(1))),
          br_if(next, i32.lt_s(local.get(i), local.get(limit))),
        ),
      ),
      local.get(i),
    ]);
    const { exports } = instantiate([kernel]);
    expect(exports.root(50, 100)).toBe(8);
    expect(exports.root(50, 5)).toBe(5);
  });

  test('branch outside its block is rejected', () => {
    const fn = new FunctionBuilder('stray');
    const kernel = fn.define([block(new Label('inner')), br(new Label('elsewhere'))]);
    expect(() => encodeModule({ memory: { initial: 1, maximum: 1, shared: false }, functions: [kernel] })).toThrow(
      'function stray: br $elsewhere is not inside block $elsewhere',
    );
  });

  test('parameters after locals are rejected', () => {
    const fn = new FunctionBuilder('late');
    fn.local('x');
    expect(() => fn.param('y')).toThrow('FunctionBuilder late: parameter $y declared after a local');
  });

  test('kernel module validates with and without shared memory', () => {
    for (const sharedMemory of [false, true]) {
      expect(wasm.validate(kernelModuleBytes({ relaxedMadd: false, sharedMemory, maximumPages: 16 }))).toBe(true);
    }
  });
});

describe('text format', () => {
  test('function prints one instruction per line', () => {
    const fn = new FunctionBuilder('twice', ['i32']);
    const x = fn.param('x');
    const done = new Label('done');
    const text = printFunction(fn.define([block(done, br_if(done, local.get(x))), i32.add(local.get(x), local.get(x))]));
    expect(text).toBe([
      '(func $twice (export "twice") (param $x i32) (result i32)',
      '  block $done',
      '    local.get $x',
      '    br_if $done',
      '  end',
      '  local.get $x',
      '  local.get $x',
      '  i32.add)',
    ].join('\n'));
  });

  test('module prints its memory and functions', () => {
    const text = printModule({ memory: { initial: 1, maximum: 4, shared: true }, functions: [sumKernel()] });
    expect(text.split('\n').slice(0, 3)).toEqual([
      '(module',
      '  (import "env" "memory" (memory 1 4 shared))',
      '  (func $sum (export "sum") (param $address i32) (param $count i32) (result f32)',
    ]);
  });

  test('kernel text shows the micro-kernel', () => {
    const text = wasmKernelText('multiplyPanels');
    expect(text.startsWith('(func $multiplyPanels (export "multiplyPanels") (param $rows i32)')).toBe(true);
    expect(text).toContain('loop $p');
    expect(text).toContain('v128.load32_splat offset=4');
    expect(text).toContain('f32x4.mul');
    expect(text).not.toContain('relaxed_madd');
    expect(wasmKernelText('multiplyPanels', { relaxedMadd: true })).toContain('f32x4.relaxed_madd');
  });

  test('elementwise kernels print their vector ops', () => {
    const text = wasmKernelText('reluBackward');
    expect(text.startsWith('(func $reluBackward (export "reluBackward") (param $x i32)')).toBe(true);
    expect(text).toContain('f32x4.gt');
    expect(text).toContain('v128.andnot');
    expect(text).toContain('v128.store32_lane 0');
    expect(wasmKernelText('subScaled')).toContain('(param $scalar f32)');
    expect(wasmKernelText('sumRows')).toContain('f64x2.promote_low_f32x4');
  });

  test('unknown kernel name lists the kernels', () => {
    expect(() => wasmKernelText('conv')).toThrow("wasmKernelText: no kernel named 'conv'; the kernels are packA, packB, multiplyPanels, gemm, gemmPackedB, gemmRowChunks, im2col, col2im");
  });

  test('threads share a product through atomic instructions', () => {
    const text = wasmKernelText('gemmRowChunks');
    expect(text).toContain('i32.atomic.rmw.cmpxchg');
    expect(text).toContain('i32.atomic.rmw.add');
    expect(text).toContain('i32.atomic.load');
    expect(wasmKernelText('gemm')).toContain('i32.atomic.load');
  });
});
