import fc from 'fast-check';
import { type Conv2dOptions, col2im, convGeometry, im2col, sizeOf } from '@metagrad/kernels';
import { WasmRuntime, detectFeatures } from '../src/wasm/runtime';
import { WasmBackend } from '../src/wasm/wasm-backend';
import { pseudoRandom } from './helpers';

const describeWithSimd = detectFeatures().simd ? describe : describe.skip;

/** A convolution geometry with sizes small enough to compare every element. */
const geometryArb = fc
  .record({
    batch: fc.integer({ min: 1, max: 4 }),
    groups: fc.integer({ min: 1, max: 2 }),
    groupChannels: fc.integer({ min: 1, max: 3 }),
    kernel: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    padding: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
    size: fc.tuple(fc.integer({ min: 1, max: 14 }), fc.integer({ min: 1, max: 14 })),
    seed: fc.integer(),
  })
  .filter((p) => [0, 1].every((axis) => p.size[axis] + 2 * p.padding[axis] >= p.dilation[axis] * (p.kernel[axis] - 1) + 1))
  .map((p) => {
    const options: Conv2dOptions = { stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups };
    const xShape = [p.batch, p.groups * p.groupChannels, p.size[0], p.size[1]];
    const wShape = [p.groups, p.groupChannels, p.kernel[0], p.kernel[1]];
    return { geometry: convGeometry('test', xShape, wShape, options), xShape, seed: p.seed };
  });

describeWithSimd('WebAssembly im2col and col2im', () => {
  const backend = new WasmBackend(new WasmRuntime({ relaxedMadd: false, sharedMemory: true }));

  test('im2col matches the TypeScript loops', () => {
    fc.assert(
      fc.property(geometryArb, ({ geometry, xShape, seed }) => {
        const { batch, inChannels, groups, kernelHeight, kernelWidth, outHeight, outWidth } = geometry;
        const rows = (inChannels / groups) * kernelHeight * kernelWidth;
        const columns = batch * outHeight * outWidth;
        const values = pseudoRandom(sizeOf(xShape), seed);
        const strides = [xShape[1] * xShape[2] * xShape[3], xShape[2] * xShape[3], xShape[3], 1];

        backend.withArena(() => {
          const [x, col] = backend.scratch([sizeOf(xShape), rows * columns]);
          x.set(values);
          for (let g = 0; g < groups; g++) {
            col.fill(Number.NaN);
            backend.rearrange('im2col', geometry, x, 0, strides, g, col);
            const expected = new Float32Array(rows * columns);
            im2col(geometry, { data: x, shape: xShape, stride: strides, offset: 0 }, g, expected);
            expect(Array.from(col)).toEqual(Array.from(expected));
          }
        });
      }),
      { numRuns: 200 },
    );
  });

  test('col2im matches the TypeScript loops', () => {
    fc.assert(
      fc.property(geometryArb, ({ geometry, xShape, seed }) => {
        const { batch, inChannels, groups, kernelHeight, kernelWidth, outHeight, outWidth } = geometry;
        const rows = (inChannels / groups) * kernelHeight * kernelWidth;
        const columns = batch * outHeight * outWidth;
        const strides = [xShape[1] * xShape[2] * xShape[3], xShape[2] * xShape[3], xShape[3], 1];
        const start = pseudoRandom(sizeOf(xShape), seed);

        backend.withArena(() => {
          const [dx, col] = backend.scratch([sizeOf(xShape), rows * columns]);
          col.set(pseudoRandom(rows * columns, seed + 1));
          dx.set(start);
          const expected = Float32Array.from(start);
          for (let g = 0; g < groups; g++) {
            backend.rearrange('col2im', geometry, dx, 0, strides, g, col);
            col2im(geometry, col, g, { data: expected, shape: xShape, stride: strides, offset: 0 });
          }
          // Both add the same values in the same order, so float32 sums agree exactly.
          expect(Array.from(dx)).toEqual(Array.from(expected));
        });
      }),
      { numRuns: 200 },
    );
  });

  test('strided image matches a contiguous one', () => {
    // The image is read through strides: here a transposed layout, channels last in memory.
    const geometry = convGeometry('test', [3, 2, 9, 7], [4, 2, 3, 3], { padding: 1, stride: [2, 1] });
    const [n, c, h, w] = [3, 2, 9, 7];
    const contiguous = [c * h * w, h * w, w, 1];
    const channelsLast = [h * w * c, 1, w * c, c];
    const values = pseudoRandom(n * c * h * w, 5);
    const columns = n * geometry.outHeight * geometry.outWidth;

    backend.withArena(() => {
      const [x, xLast, col, colLast] = backend.scratch([values.length, values.length, 2 * 9 * columns, 2 * 9 * columns]);
      x.set(values);
      for (let b = 0; b < n; b++) {
        for (let ch = 0; ch < c; ch++) {
          for (let i = 0; i < h; i++) {
            for (let j = 0; j < w; j++) xLast[b * channelsLast[0] + ch * channelsLast[1] + i * channelsLast[2] + j * channelsLast[3]] = x[b * contiguous[0] + ch * contiguous[1] + i * contiguous[2] + j];
          }
        }
      }
      backend.rearrange('im2col', geometry, x, 0, contiguous, 0, col);
      backend.rearrange('im2col', geometry, xLast, 0, channelsLast, 0, colLast);
      expect(Array.from(colLast)).toEqual(Array.from(col));
    });
  });
});
