/**
 * Options and output sizes of 2-D convolution, shared by conv2d and its two gradients.
 */
import { KernelError } from './errors';
import { formatShape } from './view';

/** A size given once for both spatial axes, or as [height, width]. */
export type Pair = number | readonly [number, number];

/** Options of a 2-D convolution, with the meanings PyTorch's `Conv2d` gives them. */
export interface Conv2dOptions {
  /** Step between windows, in pixels. Default 1. */
  stride?: Pair;
  /**
   * Zeros added around the input: a number or [height, width] for each side, 'valid' for none,
   * or 'same' for an output as large as the input (stride 1 only). When 'same' needs an odd
   * total, the extra row or column goes to the bottom or right, as in PyTorch.
   */
  padding?: Pair | 'same' | 'valid';
  /** Spacing between kernel taps, in pixels. Default 1. */
  dilation?: Pair;
  /** Number of channel groups; input and output channels must both divide by it. Default 1. */
  groups?: number;
}

/** Every size of one convolution, resolved and checked. */
export interface ConvGeometry {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  kernelHeight: number;
  kernelWidth: number;
  groups: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  outHeight: number;
  outWidth: number;
}

function readPair(kernel: string, name: string, value: Pair | undefined, fallback: number, minimum: number): [number, number] {
  const pair: readonly number[] = value === undefined ? [fallback, fallback] : typeof value === 'number' ? [value, value] : value;
  if (pair.length !== 2 || pair.some((v) => !Number.isInteger(v) || v < minimum)) {
    throw new KernelError(kernel, `${name} must be an integer >= ${minimum} or a pair of them, got ${JSON.stringify(value)}`);
  }
  return [pair[0], pair[1]];
}

/**
 * Resolves the options of a convolution of an input [N, C, H, W] with filters
 * [F, C / groups, KH, KW] and checks every size, naming the kernel, both shapes and the
 * options in any error.
 */
export function convGeometry(
  kernel: string,
  inputShape: readonly number[],
  filterShape: readonly number[],
  options: Conv2dOptions,
): ConvGeometry {
  const describe = () => `input ${formatShape(inputShape)}, filters ${formatShape(filterShape)}, options ${JSON.stringify(options)}`;
  if (inputShape.length !== 4) {
    throw new KernelError(kernel, `input must be 4-D [N, C, H, W], got ${formatShape(inputShape)}; add a batch axis of 1 for a single image`);
  }
  if (filterShape.length !== 4) {
    throw new KernelError(kernel, `filters must be 4-D [F, C / groups, KH, KW], got ${formatShape(filterShape)}`);
  }

  const [batch, inChannels, height, width] = inputShape;
  const [outChannels, groupChannels, kernelHeight, kernelWidth] = filterShape;
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1 || inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new KernelError(kernel, `groups ${groups} must be a positive integer dividing both ${inChannels} input and ${outChannels} output channels (${describe()})`);
  }
  if (groupChannels !== inChannels / groups) {
    throw new KernelError(
      kernel,
      `filters expect ${groupChannels} channels per group but the input has ${inChannels} channels in ${groups} group(s), so ${inChannels / groups} per group (${describe()})`,
    );
  }
  if (kernelHeight < 1 || kernelWidth < 1) {
    throw new KernelError(kernel, `kernel size must be at least 1x1 (${describe()})`);
  }

  const [strideH, strideW] = readPair(kernel, 'stride', options.stride, 1, 1);
  const [dilationH, dilationW] = readPair(kernel, 'dilation', options.dilation, 1, 1);
  const spanH = dilationH * (kernelHeight - 1) + 1;
  const spanW = dilationW * (kernelWidth - 1) + 1;

  let padTop: number, padBottom: number, padLeft: number, padRight: number;
  if (options.padding === 'same') {
    if (strideH !== 1 || strideW !== 1) {
      throw new KernelError(kernel, `padding 'same' needs stride 1, got stride ${JSON.stringify(options.stride)}; give the padding as numbers instead (${describe()})`);
    }
    padTop = Math.floor((spanH - 1) / 2);
    padBottom = spanH - 1 - padTop;
    padLeft = Math.floor((spanW - 1) / 2);
    padRight = spanW - 1 - padLeft;
  } else if (options.padding === 'valid') {
    padTop = padBottom = padLeft = padRight = 0;
  } else {
    [padTop, padLeft] = readPair(kernel, 'padding', options.padding, 0, 0);
    padBottom = padTop;
    padRight = padLeft;
  }

  const outHeight = Math.floor((height + padTop + padBottom - spanH) / strideH) + 1;
  const outWidth = Math.floor((width + padLeft + padRight - spanW) / strideW) + 1;
  if (outHeight < 1 || outWidth < 1) {
    throw new KernelError(
      kernel,
      `the padded input (${height + padTop + padBottom}x${width + padLeft + padRight}) is smaller than the dilated kernel (${spanH}x${spanW}), so the output would be empty (${describe()})`,
    );
  }

  return {
    batch, inChannels, height, width, outChannels, kernelHeight, kernelWidth, groups,
    strideH, strideW, dilationH, dilationW, padTop, padBottom, padLeft, padRight, outHeight, outWidth,
  };
}
