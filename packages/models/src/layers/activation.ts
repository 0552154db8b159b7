/** Activation layers: modules around the autodiff activation functions, for use in Sequential. */
import { type Tensor, gelu, leakyRelu, logSoftmax, relu, sigmoid, softmax, tanh } from '@metagrad/autodiff';
import { Module } from '../module';

/** max(x, 0). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** x for x > 0, slope * x otherwise. */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }

  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }

  override describe(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

/** Hyperbolic tangent. */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** Logistic sigmoid. */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** GELU with the exact Gaussian CDF. */
export class GELU extends Module {
  forward(x: Tensor): Tensor {
    return gelu(x);
  }
}

/** Softmax along `axis`. */
export class Softmax extends Module {
  constructor(readonly axis = -1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return softmax(x, this.axis);
  }

  override describe(): string {
    return `axis=${this.axis}`;
  }
}

/** log(softmax(x)) along `axis`. */
export class LogSoftmax extends Module {
  constructor(readonly axis = -1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.axis);
  }

  override describe(): string {
    return `axis=${this.axis}`;
  }
}
