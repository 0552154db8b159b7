/** Conv2d and the pooling layers, in NCHW layout. */
import { type Tensor, avgPool2d, conv2d, maxPool2d, zeros } from '@metagrad/autodiff';
import type { AvgPool2dOptions, Conv2dOptions, Pair, Pool2dOptions } from '@metagrad/kernels';
import * as init from '../init';
import { Module } from '../module';
import { type LayerOptions, layerGenerator } from './common';

/** Options of `Conv2d`: those of the conv2d op, initialisation, and whether to add a bias. */
export interface Conv2dLayerOptions extends Conv2dOptions, LayerOptions {
  bias?: boolean;
}

function pairOf(value: Pair): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

/**
 * 2-D convolution layer, as torch.nn.Conv2d: weight [outChannels, inChannels / groups, KH, KW]
 * and bias [outChannels], both initialised from U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with
 * fanIn = inChannels / groups * KH * KW.
 */
export class Conv2d extends Module {
  readonly kernelSize: [number, number];
  private readonly convOptions: Conv2dOptions;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, options: Conv2dLayerOptions = {}) {
    super();
    this.kernelSize = pairOf(kernelSize);
    const groups = options.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(`Conv2d: groups ${groups} must divide inChannels ${inChannels} and outChannels ${outChannels}`);
    }
    this.convOptions = { stride: options.stride, padding: options.padding, dilation: options.dilation, groups };

    const generator = layerGenerator(options);
    const dtype = options.dtype ?? 'float32';
    const [kh, kw] = this.kernelSize;
    const bound = 1 / Math.sqrt((inChannels / groups) * kh * kw);
    this.registerParameter('weight', init.uniform(zeros([outChannels, inChannels / groups, kh, kw], { dtype }), -bound, bound, { generator }));
    const bias = options.bias === false ? null : init.uniform(zeros([outChannels], { dtype }), -bound, bound, { generator });
    this.registerParameter('bias', bias);
  }

  get weight(): Tensor {
    return this.parameter('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParameter('bias');
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.convOptions);
  }

  override describe(): string {
    const { stride, padding, dilation, groups } = this.convOptions;
    const extras = [
      stride !== undefined && stride !== 1 ? `stride=${JSON.stringify(stride)}` : '',
      padding !== undefined && padding !== 0 ? `padding=${JSON.stringify(padding)}` : '',
      dilation !== undefined && dilation !== 1 ? `dilation=${JSON.stringify(dilation)}` : '',
      groups !== 1 ? `groups=${groups}` : '',
    ].filter(Boolean);
    return [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize.join(', ')}]`, ...extras].join(', ');
  }
}

/** Max pooling layer, as torch.nn.MaxPool2d (stride defaults to the kernel size). */
export class MaxPool2d extends Module {
  private readonly options: Pool2dOptions;

  constructor(kernelSize: Pair, options: Omit<Pool2dOptions, 'kernelSize'> = {}) {
    super();
    this.options = { ...options, kernelSize };
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.options);
  }

  override describe(): string {
    return `kernelSize=${JSON.stringify(this.options.kernelSize)}${this.options.stride !== undefined ? `, stride=${JSON.stringify(this.options.stride)}` : ''}`;
  }
}

/** Average pooling layer, as torch.nn.AvgPool2d. */
export class AvgPool2d extends Module {
  private readonly options: AvgPool2dOptions;

  constructor(kernelSize: Pair, options: Omit<AvgPool2dOptions, 'kernelSize'> = {}) {
    super();
    this.options = { ...options, kernelSize };
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.options);
  }

  override describe(): string {
    return `kernelSize=${JSON.stringify(this.options.kernelSize)}${this.options.stride !== undefined ? `, stride=${JSON.stringify(this.options.stride)}` : ''}`;
  }
}
