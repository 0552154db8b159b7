/**
 * Multi-head scaled dot-product attention, as torch.nn.MultiheadAttention: the same parameter
 * names, shapes, initialisation, input layouts and mask semantics, so its state dict loads
 * into PyTorch's module and back.
 */
import {
  type Generator, type Tensor, add, div, dropout, linear, matmul, narrow, permute, reshape, softmax, split, squeeze, sum,
  transpose, unsqueeze, zeros,
} from '@metagrad/autodiff';
import { formatShape } from '@metagrad/kernels';
import * as init from '../init';
import { Module } from '../module';
import { additiveAttentionMask, additivePaddingMask, causalMask, type NestedMask } from './attention-mask';
import { type LayerOptions, layerGenerator } from './common';
import { Linear } from './linear';

/** Options of `MultiheadAttention`. */
export interface MultiheadAttentionOptions extends LayerOptions {
  /** Dropout probability on the attention weights in training mode. Default 0. */
  dropout?: number;
  /** Whether the input and output projections have biases. Default true. */
  bias?: boolean;
  /** Inputs and outputs are [N, L, E] when true, [L, N, E] when false (the default, as in PyTorch). */
  batchFirst?: boolean;
  /** Features of the key input. Default embedDim. */
  kdim?: number;
  /** Features of the value input. Default embedDim. */
  vdim?: number;
}

/** Masks and switches of one attention call, as PyTorch's MultiheadAttention.forward takes them. */
export interface AttentionOptions {
  /**
   * Keys to ignore, [N, S] ([S] for unbatched input): true or 1 marks padding. Read as
   * booleans, also when given as a 0/1 tensor.
   */
  keyPaddingMask?: Tensor | NestedMask;
  /**
   * The keys each query may attend to, [L, S] or [N * numHeads, L, S]. A tensor is an additive
   * float mask, and nested arrays of booleans are a boolean mask (true = may not attend).
   */
  attnMask?: Tensor | NestedMask;
  /** Whether to return the attention weights. Default true. */
  needWeights?: boolean;
  /** Whether the returned weights are averaged over heads. Default true. */
  averageAttnWeights?: boolean;
  /** Adds the causal mask: query i attends only to keys j <= i. Combines with attnMask. */
  isCausal?: boolean;
}

/** The attention output and, when requested, the attention weights. */
export interface AttentionResult {
  /** [L, N, E], or [N, L, E] with batchFirst, or [L, E] for unbatched input. */
  output: Tensor;
  /**
   * [N, L, S] averaged over heads, or [N, numHeads, L, S]; without the batch axis for
   * unbatched input; null when needWeights is false. In training mode these are the weights
   * after dropout, as PyTorch returns them.
   */
  weights: Tensor | null;
}

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`MultiheadAttention: ${name} must be a positive integer, got ${value}`);
}

/**
 * Attention with `numHeads` heads of size headDim = embedDim / numHeads:
 * softmax(Q·Kᵀ / sqrt(headDim) + mask)·V per head, with Q, K and V the input projections of
 * query, key and value, then the output projection out_proj.
 *
 * Parameters, as in PyTorch: in_proj_weight [3E, E] (xavier uniform) and in_proj_bias [3E]
 * (zeros), or q_proj_weight, k_proj_weight and v_proj_weight when kdim or vdim differ from E;
 * out_proj.weight [E, E] (PyTorch's Linear init) and out_proj.bias [E] (zeros).
 *
 * A query whose keys are all masked gets all-zero weights, so its output is out_proj.bias, and
 * the other queries are unaffected. NOTE: PyTorch 1.13 returns NaN for such a query instead.
 *
 * const attention = new MultiheadAttention(8, 2, { batchFirst: true });
 * attention.forward(x, x, x, { isCausal: true }).output has x's shape [N, L, 8].
 */
export class MultiheadAttention extends Module {
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly kdim: number;
  readonly vdim: number;
  readonly outProj: Linear;
  private readonly generator: Generator;

  constructor(readonly embedDim: number, readonly numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    checkPositiveInteger('embedDim', embedDim);
    checkPositiveInteger('numHeads', numHeads);
    if (embedDim % numHeads !== 0) throw new Error(`MultiheadAttention: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    this.headDim = embedDim / numHeads;
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new Error(`MultiheadAttention: dropout must be in [0, 1], got ${this.dropout}`);
    this.batchFirst = options.batchFirst ?? false;
    this.kdim = options.kdim ?? embedDim;
    this.vdim = options.vdim ?? embedDim;
    checkPositiveInteger('kdim', this.kdim);
    checkPositiveInteger('vdim', this.vdim);

    this.generator = layerGenerator(options);
    const generator = this.generator;
    const dtype = options.dtype ?? 'float32';
    const projection = (inFeatures: number, rows: number) => init.xavierUniform(zeros([rows, inFeatures], { dtype }), { generator });
    if (this.kdim === embedDim && this.vdim === embedDim) {
      this.registerParameter('in_proj_weight', projection(embedDim, 3 * embedDim));
      this.registerParameter('q_proj_weight', null);
      this.registerParameter('k_proj_weight', null);
      this.registerParameter('v_proj_weight', null);
    } else {
      this.registerParameter('q_proj_weight', projection(embedDim, embedDim));
      this.registerParameter('k_proj_weight', projection(this.kdim, embedDim));
      this.registerParameter('v_proj_weight', projection(this.vdim, embedDim));
      this.registerParameter('in_proj_weight', null);
    }

    const bias = options.bias ?? true;
    this.registerParameter('in_proj_bias', bias ? zeros([3 * embedDim], { dtype }) : null);
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim, { generator, dtype, bias }));
    if (this.outProj.bias) init.zeros(this.outProj.bias);
  }

  /**
   * Attends from `query` to `key`/`value`. Inputs are [L, N, E], [S, N, kdim] and [S, N, vdim]
   * ([N, L, E] ... with batchFirst), or [L, E], [S, kdim] and [S, vdim] unbatched.
   */
  forward(query: Tensor, key: Tensor, value: Tensor, options: AttentionOptions = {}): AttentionResult {
    const batched = this.checkInputs(query, key, value);

    // Work in [N, L, E] whatever the caller's layout; the transposes are views.
    const toBatchFirst = (x: Tensor) => (!batched ? unsqueeze(x, 0) : this.batchFirst ? x : transpose(x, 0, 1));
    const q = toBatchFirst(query);
    const k = toBatchFirst(key);
    const v = toBatchFirst(value);
    const [batch, targetLength] = q.shape;
    const sourceLength = k.shape[1];

    const projected = this.project(q, k, v, query === key && key === value);
    const heads = (x: Tensor, length: number) => permute(reshape(x, [batch, length, this.numHeads, this.headDim]), [0, 2, 1, 3]);
    const queries = div(heads(projected.q, targetLength), Math.sqrt(this.headDim));
    let scores = matmul(queries, transpose(heads(projected.k, sourceLength), -2, -1));

    for (const mask of this.masks(options, batch, targetLength, sourceLength, scores, batched)) scores = add(scores, mask);
    let weights = softmax(scores, -1);
    weights = dropout(weights, this.dropout, { training: this.training, generator: this.generator });

    const context = permute(matmul(weights, heads(projected.v, sourceLength)), [0, 2, 1, 3]);
    let output = this.outProj.forward(reshape(context, [batch, targetLength, this.embedDim]));
    output = !batched ? squeeze(output, 0) : this.batchFirst ? output : transpose(output, 0, 1);

    if (options.needWeights === false) return { output, weights: null };
    if (options.averageAttnWeights ?? true) weights = div(sum(weights, 1), this.numHeads);
    return { output, weights: batched ? weights : squeeze(weights, 0) };
  }

  /** Checks the input shapes and returns whether the inputs are batched. */
  private checkInputs(query: Tensor, key: Tensor, value: Tensor): boolean {
    const shapes = `query ${formatShape(query.shape)}, key ${formatShape(key.shape)}, value ${formatShape(value.shape)}`;
    const batched = query.ndim === 3;
    if ((query.ndim !== 2 && query.ndim !== 3) || key.ndim !== query.ndim || value.ndim !== query.ndim) {
      throw new Error(`MultiheadAttention: query, key and value must all be 3-D (batched) or all 2-D (unbatched), got ${shapes}`);
    }

    let layout = '[L, E]';
    if (batched) layout = this.batchFirst ? '[N, L, E]' : '[L, N, E]';
    const sequenceAxis = batched && this.batchFirst ? 1 : 0;
    const featureAxis = query.ndim - 1;
    const batchAxis = this.batchFirst ? 0 : 1;
    const fits =
      query.shape[featureAxis] === this.embedDim &&
      key.shape[featureAxis] === this.kdim &&
      value.shape[featureAxis] === this.vdim &&
      key.shape[sequenceAxis] === value.shape[sequenceAxis] &&
      (!batched || (key.shape[batchAxis] === query.shape[batchAxis] && value.shape[batchAxis] === query.shape[batchAxis]));
    if (!fits) {
      throw new Error(
        `MultiheadAttention: ${shapes} do not fit the layout ${layout} with embedDim ${this.embedDim}, kdim ${this.kdim} and vdim ${this.vdim}; ` +
          'key and value need the same length and every input the same batch size',
      );
    }
    return batched;
  }

  /** The input projections, from one [3E, E] matrix or from three separate ones. */
  private project(query: Tensor, key: Tensor, value: Tensor, selfAttention: boolean): { q: Tensor; k: Tensor; v: Tensor } {
    const E = this.embedDim;
    const bias = this.optionalParameter('in_proj_bias');
    const biasOf = (index: number) => (bias ? narrow(bias, 0, index * E, E) : null);
    const packed = this.optionalParameter('in_proj_weight');
    if (packed && selfAttention) {
      const [q, k, v] = split(linear(query, packed, bias), E, -1);
      return { q, k, v };
    }

    const weightOf = (index: number, name: string) => (packed ? narrow(packed, 0, index * E, E) : this.parameter(name));
    return {
      q: linear(query, weightOf(0, 'q_proj_weight'), biasOf(0)),
      k: linear(key, weightOf(1, 'k_proj_weight'), biasOf(1)),
      v: linear(value, weightOf(2, 'v_proj_weight'), biasOf(2)),
    };
  }

  /** Builds the additive masks of one call, each shaped to broadcast against the scores [N, heads, L, S]. */
  private masks(options: AttentionOptions, batch: number, targetLength: number, sourceLength: number, scores: Tensor, batched: boolean): Tensor[] {
    const masks: Tensor[] = [];
    const heads = this.numHeads;

    if (options.attnMask !== undefined) {
      const mask = additiveAttentionMask(options.attnMask, scores.dtype);
      const expected = [[targetLength, sourceLength], [batch * heads, targetLength, sourceLength]];
      if (!expected.some((shape) => sameShape(mask.shape, shape))) {
        throw new Error(
          `MultiheadAttention: attnMask has shape ${formatShape(mask.shape)} but must be ${expected.map(formatShape).join(' or ')} ` +
            `for ${targetLength} queries, ${sourceLength} keys, batch ${batch} and ${heads} heads`,
        );
      }
      masks.push(mask.ndim === 2 ? mask : reshape(mask, [batch, heads, targetLength, sourceLength]));
    }

    if (options.keyPaddingMask !== undefined) {
      const mask = additivePaddingMask(options.keyPaddingMask, scores.dtype);
      const expected = batched ? [batch, sourceLength] : [sourceLength];
      if (!sameShape(mask.shape, expected)) {
        throw new Error(`MultiheadAttention: keyPaddingMask has shape ${formatShape(mask.shape)} but must be ${formatShape(expected)}, one entry per key`);
      }
      masks.push(reshape(mask, [batch, 1, 1, sourceLength]));
    }

    if (options.isCausal) masks.push(causalMask(targetLength, sourceLength, { dtype: scores.dtype }));
    return masks;
  }

  override describe(): string {
    const extras = [
      this.kdim !== this.embedDim ? `kdim=${this.kdim}` : '',
      this.vdim !== this.embedDim ? `vdim=${this.vdim}` : '',
      `dropout=${this.dropout}`,
      `bias=${this.optionalParameter('in_proj_bias') !== null}`,
      `batchFirst=${this.batchFirst}`,
    ].filter(Boolean);
    return [`embedDim=${this.embedDim}, numHeads=${this.numHeads}`, ...extras].join(', ');
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}
