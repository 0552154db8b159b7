/**
 * Parameter initialisation, in place, with PyTorch's formulas and a seedable generator.
 *
 * fan_in and fan_out of a weight [out, in, ...kernel] are in * prod(kernel) and
 * out * prod(kernel), as in torch.nn.init.
 */
import { Generator, type RandomOptions, type Tensor, noGrad } from '@metagrad/autodiff';
import { formatShape } from '@metagrad/kernels';

function generatorOf(options: RandomOptions | undefined): Generator {
  if (options?.generator) return options.generator;
  return new Generator(options?.seed ?? 0);
}

/** Writes values drawn one by one into every element of a contiguous tensor. */
function fillWith(tensor: Tensor, draw: () => number): Tensor {
  noGrad(() => {
    const end = tensor.offset + tensor.size;
    for (let i = tensor.offset; i < end; i++) tensor.data[i] = draw();
  });
  return tensor;
}

/** fan_in and fan_out of a weight tensor. */
export function fans(tensor: Tensor): { fanIn: number; fanOut: number } {
  if (tensor.ndim < 2) throw new Error(`init: fan in and fan out need a tensor with at least 2 axes, got shape ${formatShape(tensor.shape)}`);
  const receptive = tensor.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: tensor.shape[1] * receptive, fanOut: tensor.shape[0] * receptive };
}

/** The gain torch.nn.init.calculate_gain gives for a nonlinearity. */
export function calculateGain(nonlinearity: 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu', slope = 0.01): number {
  switch (nonlinearity) {
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + slope * slope));
    default:
      return 1;
  }
}

/** Fills with values from U(low, high). */
export function uniform(tensor: Tensor, low = 0, high = 1, options?: RandomOptions): Tensor {
  const generator = generatorOf(options);
  return fillWith(tensor, () => low + (high - low) * generator.uniform());
}

/** Fills with values from N(mean, std^2). */
export function normal(tensor: Tensor, mean = 0, std = 1, options?: RandomOptions): Tensor {
  const generator = generatorOf(options);
  return fillWith(tensor, () => mean + std * generator.normal());
}

/** Fills with `value`. */
export function constant(tensor: Tensor, value: number): Tensor {
  return fillWith(tensor, () => value);
}

/** Fills with zeros. */
export function zeros(tensor: Tensor): Tensor {
  return constant(tensor, 0);
}

/** Fills with ones. */
export function ones(tensor: Tensor): Tensor {
  return constant(tensor, 1);
}

/** Xavier (Glorot) uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform(tensor: Tensor, options: RandomOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = fans(tensor);
  const bound = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(tensor, -bound, bound, options);
}

/** Xavier (Glorot) normal: N(0, s^2) with s = gain * sqrt(2 / (fan_in + fan_out)). */
export function xavierNormal(tensor: Tensor, options: RandomOptions & { gain?: number } = {}): Tensor {
  const { fanIn, fanOut } = fans(tensor);
  return normal(tensor, 0, (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), options);
}

/** Options of the Kaiming (He) initialisers, as torch.nn.init names them. */
export interface KaimingOptions extends RandomOptions {
  /** Negative slope of the leaky relu that follows (0 for relu). */
  a?: number;
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: 'relu' | 'leaky_relu' | 'linear' | 'tanh' | 'sigmoid';
}

function kaimingStd(tensor: Tensor, options: KaimingOptions): number {
  const { fanIn, fanOut } = fans(tensor);
  const fan = options.mode === 'fanOut' ? fanOut : fanIn;
  const gain = calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** Kaiming (He) uniform: U(-b, b) with b = gain * sqrt(3 / fan). */
export function kaimingUniform(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(tensor, options);
  return uniform(tensor, -bound, bound, options);
}

/** Kaiming (He) normal: N(0, s^2) with s = gain / sqrt(fan). */
export function kaimingNormal(tensor: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(tensor, 0, kaimingStd(tensor, options), options);
}
