/** The reference CNN that metagrad trains on MNIST and benchmarks against other engines. */
import { Generator } from '@metagrad/autodiff';
import { Conv2d, MaxPool2d } from '../layers/conv';
import { Flatten, Linear } from '../layers/linear';
import { ReLU } from '../layers/activation';
import { Sequential } from '../container';
import type { LayerOptions } from '../layers/common';

/**
 * Input [N, 1, 28, 28] -> conv 32 3x3 + relu -> maxpool 2 -> conv 64 3x3 + relu -> maxpool 2 ->
 * conv 64 3x3 + relu -> flatten (576) -> linear 64 + relu -> linear 10, returning logits [N, 10].
 * Parameter names match the same torch.nn.Sequential: 0.weight, 3.weight, 6.weight, 9.weight, 11.weight.
 */
export function referenceCnn(options: LayerOptions = {}): Sequential {
  const generator = options.generator ?? new Generator(options.seed ?? 0);
  const layer = { generator, dtype: options.dtype };
  return new Sequential(
    new Conv2d(1, 32, 3, layer),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(32, 64, 3, layer),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(64, 64, 3, layer),
    new ReLU(),
    new Flatten(),
    new Linear(576, 64, layer),
    new ReLU(),
    new Linear(64, 10, layer),
  );
}
