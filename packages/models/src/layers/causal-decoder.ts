/** The GPT-style decoder block: causal self-attention and a feed-forward block, pre-norm. */
import type { Tensor } from '@metagrad/autodiff';
import { type EncoderLayerCallOptions, TransformerEncoderLayer, type TransformerEncoderLayerOptions } from './transformer-encoder';

/** Options of `CausalDecoderBlock`: those of the encoder layer except normFirst, which is always true. */
export type CausalDecoderBlockOptions = Omit<TransformerEncoderLayerOptions, 'normFirst'>;

/**
 * x = x + dropout1(self_attn(norm1(x), causal));  x = x + dropout2(linear2(dropout(act(linear1(norm2(x))))))
 *
 * Each position attends only to itself and earlier positions, so the output at position t
 * depends on the inputs at 0..t only, as a language model needs. The activation defaults to
 * GELU, as in GPT-2.
 *
 * A decoder-only block has the parameters of an encoder layer, so this is a pre-norm
 * TransformerEncoderLayer that always applies the causal mask. Its state dict matches that of
 * torch.nn.TransformerEncoderLayer(dModel, nhead, norm_first=True, activation='gelu') called
 * with a causal src_mask.
 *
 * new CausalDecoderBlock(8, 2, { dimFeedforward: 32, batchFirst: true }).forward(x) keeps x's shape [N, T, 8].
 */
export class CausalDecoderBlock extends TransformerEncoderLayer {
  constructor(dModel: number, nhead: number, options: CausalDecoderBlockOptions = {}) {
    super(dModel, nhead, { activation: 'gelu', ...options, normFirst: true });
  }

  /** Applies the block with the causal mask, plus any padding or extra attention mask given. */
  override forward(x: Tensor, options: EncoderLayerCallOptions = {}): Tensor {
    return super.forward(x, { ...options, isCausal: true });
  }
}
