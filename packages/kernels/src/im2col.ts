/**
 * im2col and col2im: the rearrangements that turn a convolution into one matrix product.
 *
 * For channel group g with Cg = C / groups channels, the column matrix has one row per filter
 * tap (c, kh, kw) and one column per output position (n, oh, ow):
 *
 *   col[(c * KH + kh) * KW + kw][(n * OH + oh) * OW + ow]
 *     = x[n, g * Cg + c, oh * strideH - padTop + kh * dilationH, ow * strideW - padLeft + kw * dilationW]
 *
 * and 0 where that input position falls in the padding. Then the convolution of group g is
 * W_g · col, with W_g the [F / groups, Cg * KH * KW] filters of the group.
 */
import type { ConvGeometry } from './conv-geometry';
import type { FloatArray, StridedView } from './view';

// Loops read Math through this module binding, not the global: under Jest's vm sandbox every
// global lookup in a loop is slow (Math.exp in a loop ran about 35 times slower there).
const math = Math;

/** First and one-past-last output columns whose tap lands inside the input row. */
function validColumns(geometry: ConvGeometry, kw: number): [number, number] {
  const { strideW, padLeft, dilationW, width, outWidth } = geometry;
  const shift = padLeft - kw * dilationW; // iw = ow * strideW - shift
  const first = math.max(0, math.ceil(shift / strideW));
  const end = math.min(outWidth, math.floor((width - 1 + shift) / strideW) + 1);
  return [first, math.max(first, end)];
}

/** Fills `col` ([Cg * KH * KW, N * OH * OW], contiguous) from the input `x` for group `group`. */
export function im2col(geometry: ConvGeometry, x: StridedView, group: number, col: FloatArray): void {
  const { batch, inChannels, groups, kernelHeight, kernelWidth, strideH, strideW, dilationH, dilationW, padTop, padLeft, height, outHeight, outWidth } = geometry;
  const groupChannels = inChannels / groups;
  const [sN, sC, sH, sW] = x.stride;
  const src = x.data;
  const columns = batch * outHeight * outWidth;

  for (let c = 0; c < groupChannels; c++) {
    for (let kh = 0; kh < kernelHeight; kh++) {
      for (let kw = 0; kw < kernelWidth; kw++) {
        const row = (c * kernelHeight + kh) * kernelWidth + kw;
        const [first, end] = validColumns(geometry, kw);
        const iwAtFirst = first * strideW - padLeft + kw * dilationW;
        let dst = row * columns;

        for (let n = 0; n < batch; n++) {
          const channelStart = x.offset + n * sN + (group * groupChannels + c) * sC;
          for (let oh = 0; oh < outHeight; oh++, dst += outWidth) {
            const ih = oh * strideH - padTop + kh * dilationH;
            if (ih < 0 || ih >= height) {
              col.fill(0, dst, dst + outWidth);
              continue;
            }
            col.fill(0, dst, dst + first);
            let s = channelStart + ih * sH + iwAtFirst * sW;
            const step = strideW * sW;
            for (let ow = first; ow < end; ow++, s += step) col[dst + ow] = src[s];
            col.fill(0, dst + end, dst + outWidth);
          }
        }
      }
    }
  }
}

/**
 * Adds the column matrix back into the input gradient `dx` for group `group`: the adjoint of
 * im2col. An input position covered by several taps receives the sum of their values.
 */
export function col2im(geometry: ConvGeometry, col: FloatArray, group: number, dx: StridedView): void {
  const { batch, inChannels, groups, kernelHeight, kernelWidth, strideH, strideW, dilationH, dilationW, padTop, padLeft, height, outHeight, outWidth } = geometry;
  const groupChannels = inChannels / groups;
  const [sN, sC, sH, sW] = dx.stride;
  const dst = dx.data;
  const columns = batch * outHeight * outWidth;

  for (let c = 0; c < groupChannels; c++) {
    for (let kh = 0; kh < kernelHeight; kh++) {
      for (let kw = 0; kw < kernelWidth; kw++) {
        const row = (c * kernelHeight + kh) * kernelWidth + kw;
        const [first, end] = validColumns(geometry, kw);
        const iwAtFirst = first * strideW - padLeft + kw * dilationW;
        let src = row * columns;

        for (let n = 0; n < batch; n++) {
          const channelStart = dx.offset + n * sN + (group * groupChannels + c) * sC;
          for (let oh = 0; oh < outHeight; oh++, src += outWidth) {
            const ih = oh * strideH - padTop + kh * dilationH;
            if (ih < 0 || ih >= height) continue;
            let d = channelStart + ih * sH + iwAtFirst * sW;
            const step = strideW * sW;
            for (let ow = first; ow < end; ow++, d += step) dst[d] += col[src + ow];
          }
        }
      }
    }
  }
}
