/**
 * im2col and col2im of the WebAssembly backend: the same rearrangements as ../im2col.ts, on
 * float32 data in WebAssembly memory. Pointers and strides are in bytes.
 *
 * Both walk the column matrix in its memory order. Row (c * KH + kh) * KW + kw is one filter tap,
 * and column (n * OH + oh) * OW + ow is one output position, which reads the input pixel
 *   ih = oh * strideH - padTop + kh * dilationH,   iw = ow * strideW - padLeft + kw * dilationW
 * of channel c of image n. A pixel outside the input is padding, which reads as zero. For each
 * tap the kernels first find the output columns whose pixels lie inside the image. An output row
 * is then a run of padding, a run of pixels and padding again, and the pixels are read four at a
 * time when they are adjacent. An output row whose input row lies in the padding is handled at
 * once.
 *
 * One call covers `images` consecutive images, from `x` (or `dx`) and the column matrix's column
 * of their first output position. Threads split a convolution by images, so each writes its own
 * columns of the column matrix (im2col) or its own images of dx (col2im).
 */
import { BYTES_PER_FLOAT } from './blocking';
import { type FunctionDefinition, FunctionBuilder } from './encoder';
import { type Code, type Local, f32, f32x4, i32, ifElse, local, memory, select, v128 } from './instructions';
import { forLoop, minS } from './loops';

const F = BYTES_PER_FLOAT;

/** Parameters after the two pointers, the same for both kernels. */
const GEOMETRY = [
  'imageStride', 'channelStride', 'rowStride', 'pixelStride',
  'images', 'channels', 'kernelHeight', 'kernelWidth', 'strideH', 'strideW', 'dilationH', 'dilationW',
  'padTop', 'padLeft', 'height', 'width', 'outHeight', 'outWidth',
  /** Bytes from one row of the column matrix to the next: all N * OH * OW columns. */
  'rowPitch',
] as const;

type Geometry = Record<(typeof GEOMETRY)[number], Local>;

/** The locals of the loop nest over taps (c, kh, kw), images n and output rows oh. */
interface Loops {
  c: Local;
  kh: Local;
  kw: Local;
  n: Local;
  oh: Local;
  ow: Local;
  ih: Local;
  /** iw at ow = 0 for the current tap. */
  firstIw: Local;
  /** The output columns [first, end) whose iw lies inside the image, for the current tap. */
  first: Local;
  end: Local;
  /** Byte address of the first pixel inside the image of the current output row. */
  pixel: Local;
  /** Bytes from one pixel read to the next along an output row: strideW * pixelStride. */
  pixelStep: Local;
  /** 1 when pixelStep is 4, so that a row's pixels are adjacent floats. */
  adjacent: Local;
  count: Local;
}

function declare(fn: FunctionBuilder): { g: Geometry; v: Loops } {
  const g = Object.fromEntries(GEOMETRY.map((name) => [name, fn.param(name)])) as Geometry;
  const names = ['c', 'kh', 'kw', 'n', 'oh', 'ow', 'ih', 'firstIw', 'first', 'end', 'pixel', 'pixelStep', 'adjacent', 'count'] as const;
  const v = Object.fromEntries(names.map((name) => [name, fn.local(name)])) as unknown as Loops;
  return { g, v };
}

const get = local.get;
const add = (pointer: Local, bytes: Code): Code => local.set(pointer, i32.add(get(pointer), bytes));

/**
 * Sets [first, end), the output columns whose iw = firstIw + ow * strideW lies in [0, width):
 *   first = ceil(-firstIw / strideW) when firstIw < 0, else 0
 *   end   = floor((width - 1 - firstIw) / strideW) + 1, at most outWidth and at least first.
 * Divisions are of non-negative numbers only, so i32.div_u computes them.
 */
function validColumns(g: Geometry, v: Loops): Code {
  const lastInside = i32.sub(i32.sub(get(g.width), i32.const(1)), get(v.firstIw));
  return [
    local.set(v.first, select(
      i32.div_u(i32.add(i32.sub(i32.const(0), get(v.firstIw)), i32.sub(get(g.strideW), i32.const(1))), get(g.strideW)),
      i32.const(0),
      i32.lt_s(get(v.firstIw), i32.const(0)))),
    local.set(v.first, minS(get(v.first), get(g.outWidth))),
    local.set(v.end, select(
      minS(i32.add(i32.div_u(lastInside, get(g.strideW)), i32.const(1)), get(g.outWidth)),
      i32.const(0),
      i32.ge_s(lastInside, i32.const(0)))),
    local.set(v.end, select(get(v.end), get(v.first), i32.gt_s(get(v.end), get(v.first)))),
  ];
}

/**
 * Builds the loops both kernels share. For each tap (c, kh, kw), `columns` is set to the tap's
 * row of the column matrix. Then for each image n and output row oh, `insideRow` runs when ih
 * lies in the image, with `pixel` at the row's first pixel inside, and `paddingRow` runs
 * otherwise. Both must advance `columns` by one output row.
 */
function tapLoops(g: Geometry, v: Loops, image: Local, columnMatrix: Local, columns: Local, insideRow: Code, paddingRow: Code): Code {
  const one = i32.const(1);
  return [
    local.set(v.pixelStep, i32.mul(get(g.strideW), get(g.pixelStride))),
    local.set(v.adjacent, i32.eq(get(v.pixelStep), i32.const(F))),
    forLoop(v.c, i32.const(0), get(g.channels), one,
      forLoop(v.kh, i32.const(0), get(g.kernelHeight), one,
        forLoop(v.kw, i32.const(0), get(g.kernelWidth), one,
          local.set(columns, i32.add(get(columnMatrix),
            i32.mul(i32.add(i32.mul(i32.add(i32.mul(get(v.c), get(g.kernelHeight)), get(v.kh)), get(g.kernelWidth)), get(v.kw)), get(g.rowPitch)))),
          local.set(v.firstIw, i32.sub(i32.mul(get(v.kw), get(g.dilationW)), get(g.padLeft))),
          validColumns(g, v),
          forLoop(v.n, i32.const(0), get(g.images), one,
            forLoop(v.oh, i32.const(0), get(g.outHeight), one,
              local.set(v.ih, i32.add(i32.sub(i32.mul(get(v.oh), get(g.strideH)), get(g.padTop)), i32.mul(get(v.kh), get(g.dilationH)))),
              // One unsigned comparison tests 0 <= ih < height.
              ifElse(i32.lt_u(get(v.ih), get(g.height)),
                [
                  // Pixel (ih, firstIw + first * strideW) of channel c of image n.
                  local.set(v.pixel, i32.add(
                    i32.add(i32.add(get(image), i32.mul(get(v.n), get(g.imageStride))), i32.mul(get(v.c), get(g.channelStride))),
                    i32.add(i32.mul(get(v.ih), get(g.rowStride)), i32.mul(i32.add(get(v.firstIw), i32.mul(get(v.first), get(g.strideW))), get(g.pixelStride))))),
                  insideRow,
                ],
                paddingRow),
            ),
          ),
        ),
      ),
    ),
  ];
}

/** Stores zeros in the floats [from, to) of the output row at `row`. */
function zeros(v: Loops, row: Local, from: Code, to: Code): Code {
  return forLoop(v.ow, from, to, i32.const(1), f32.store(i32.add(get(row), i32.mul(get(v.ow), i32.const(F))), f32.const(0)));
}

/**
 * im2col(x, col, geometry...) fills the column matrix:
 *   col[(c * KH + kh) * KW + kw][(n * OH + oh) * OW + ow] = x[n][c][ih][iw], or 0 in the padding.
 */
export function im2colKernel(): FunctionDefinition {
  const fn = new FunctionBuilder('im2col');
  const x = fn.param('x');
  const col = fn.param('col');
  const { g, v } = declare(fn);
  const out = fn.local('out');
  const to = fn.local('to');
  const rowBytes = i32.mul(get(g.outWidth), i32.const(F));

  // Adjacent pixels are copied four at a time, then one at a time; strided ones one at a time.
  // The second loop goes on from the column the first stopped at.
  const copyPixels: Code = [
    local.set(to, i32.add(get(out), i32.mul(get(v.first), i32.const(F)))),
    local.set(v.count, i32.sub(get(v.end), get(v.first))),
    local.set(v.ow, i32.const(0)),
    ifElse(get(v.adjacent),
      forLoop(v.ow, i32.const(0), i32.sub(get(v.count), i32.const(3)), i32.const(4),
        v128.store(get(to), v128.load(get(v.pixel))),
        add(to, i32.const(4 * F)),
        add(v.pixel, i32.const(4 * F)),
      )),
    forLoop(v.ow, get(v.ow), get(v.count), i32.const(1),
      f32.store(get(to), f32.load(get(v.pixel))),
      add(to, i32.const(F)),
      add(v.pixel, get(v.pixelStep)),
    ),
  ];
  const insideRow: Code = [
    zeros(v, out, i32.const(0), get(v.first)),
    copyPixels,
    zeros(v, out, get(v.end), get(g.outWidth)),
    add(out, rowBytes),
  ];
  const paddingRow: Code = [memory.fill(get(out), i32.const(0), rowBytes), add(out, rowBytes)];

  return fn.define(tapLoops(g, v, x, col, out, insideRow, paddingRow));
}

/**
 * col2im(col, dx, geometry...) adds the column matrix back into the input gradient, the adjoint of
 * im2col: dx[n][c][ih][iw] += col[(c * KH + kh) * KW + kw][(n * OH + oh) * OW + ow] for every
 * position inside the image.
 */
export function col2imKernel(): FunctionDefinition {
  const fn = new FunctionBuilder('col2im');
  const col = fn.param('col');
  const dx = fn.param('dx');
  const { g, v } = declare(fn);
  const from = fn.local('from');
  const source = fn.local('source');
  const rowBytes = i32.mul(get(g.outWidth), i32.const(F));

  // Adjacent pixels are updated four at a time, then one at a time; strided ones one at a time.
  // The second loop goes on from the column the first stopped at.
  const insideRow: Code = [
    local.set(source, i32.add(get(from), i32.mul(get(v.first), i32.const(F)))),
    local.set(v.count, i32.sub(get(v.end), get(v.first))),
    local.set(v.ow, i32.const(0)),
    ifElse(get(v.adjacent),
      forLoop(v.ow, i32.const(0), i32.sub(get(v.count), i32.const(3)), i32.const(4),
        v128.store(get(v.pixel), f32x4.add(v128.load(get(v.pixel)), v128.load(get(source)))),
        add(source, i32.const(4 * F)),
        add(v.pixel, i32.const(4 * F)),
      )),
    forLoop(v.ow, get(v.ow), get(v.count), i32.const(1),
      f32.store(get(v.pixel), f32.add(f32.load(get(v.pixel)), f32.load(get(source)))),
      add(source, i32.const(F)),
      add(v.pixel, get(v.pixelStep)),
    ),
    add(from, rowBytes),
  ];
  const paddingRow: Code = add(from, rowBytes);

  return fn.define(tapLoops(g, v, dx, col, from, insideRow, paddingRow));
}
