/**
 * Attention masks, in the two forms torch.nn.MultiheadAttention takes. An additive float mask
 * is added to the attention scores before the softmax: 0 keeps a position and -Infinity
 * removes it. In a boolean mask, true marks a position that may not be attended to. metagrad
 * tensors contain only floats, so a boolean mask is given as nested arrays of booleans.
 * The functions here turn every mask into the additive form.
 */
import { Tensor } from '@metagrad/autodiff';
import { type Dtype, formatShape } from '@metagrad/kernels';

/** Nested arrays of booleans or numbers, such as [[false, true]] or [[0, 1]]. */
export type NestedMask = boolean | number | readonly NestedMask[];

/**
 * Builds the additive float mask [L, L] that lets query position i attend to key positions j <= i
 * only: 0 on and below the diagonal, -Infinity above it, as PyTorch's
 * nn.Transformer.generate_square_subsequent_mask. With `sourceLength`, the mask is
 * [targetLength, sourceLength], aligned at the top left.
 *
 * causalMask(3).toArray() is [[0, -Infinity, -Infinity], [0, 0, -Infinity], [0, 0, 0]].
 */
export function causalMask(targetLength: number, sourceLength = targetLength, options: { dtype?: Dtype } = {}): Tensor {
  for (const [name, length] of [['targetLength', targetLength], ['sourceLength', sourceLength]] as const) {
    if (!Number.isInteger(length) || length < 0) throw new Error(`causalMask: ${name} must be a non-negative integer, got ${length}`);
  }
  const data = options.dtype === 'float64' ? new Float64Array(targetLength * sourceLength) : new Float32Array(targetLength * sourceLength);
  for (let i = 0; i < targetLength; i++) {
    for (let j = i + 1; j < sourceLength; j++) data[i * sourceLength + j] = -Infinity;
  }
  return new Tensor(data, [targetLength, sourceLength]);
}

/** Flat values and shape of nested arrays; throws for ragged nesting or a value that is neither boolean nor number. */
function flattenNested(caller: string, mask: NestedMask): { values: Array<boolean | number>; shape: number[] } {
  const shape: number[] = [];
  let level: NestedMask = mask;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }

  const values: Array<boolean | number> = [];
  const visit = (value: NestedMask, depth: number, path: number[]): void => {
    const isArray = Array.isArray(value);
    if (depth < shape.length ? !isArray || value.length !== shape[depth] : isArray) {
      throw new Error(`${caller}: the nested arrays are ragged at index [${path.join(', ')}]; every row needs the same length, for shape ${formatShape(shape)}`);
    }
    if (Array.isArray(value)) {
      value.forEach((child: NestedMask, i: number) => visit(child, depth + 1, [...path, i]));
      return;
    }
    if (typeof value !== 'boolean' && typeof value !== 'number') {
      throw new Error(`${caller}: element [${path.join(', ')}] is ${typeof value}; a mask contains booleans or numbers`);
    }
    values.push(value);
  };
  visit(mask, 0, []);
  return { values, shape };
}

function additiveFromBooleans(blocked: ArrayLike<boolean>, shape: number[], dtype: Dtype): Tensor {
  const data = dtype === 'float64' ? new Float64Array(blocked.length) : new Float32Array(blocked.length);
  for (let i = 0; i < blocked.length; i++) if (blocked[i]) data[i] = -Infinity;
  return new Tensor(data, shape);
}

/**
 * Turns a key padding mask into an additive mask of the same shape. The mask is read as
 * booleans: true or 1 marks a padded key to ignore, false or 0 a real one. A tensor must hold
 * only 0 and 1.
 *
 * NOTE: PyTorch adds a float key_padding_mask to the scores instead. metagrad has no boolean
 * tensors, so a 0/1 tensor here means what a boolean tensor means in PyTorch. Pass an
 * additive padding mask as attnMask.
 */
export function additivePaddingMask(mask: Tensor | NestedMask, dtype: Dtype): Tensor {
  const caller = 'MultiheadAttention: keyPaddingMask';
  if (mask instanceof Tensor) {
    const values = mask.toTypedArray();
    const invalid = values.findIndex((value) => value !== 0 && value !== 1);
    if (invalid >= 0) {
      throw new Error(`${caller} must hold only 0 and 1 (1 = ignore that key), got ${values[invalid]} at flat index ${invalid}; pass an additive mask as attnMask`);
    }
    return additiveFromBooleans(Array.from(values, (value) => value === 1), mask.shape, dtype);
  }

  const { values, shape } = flattenNested(caller, mask);
  const invalid = values.findIndex((value) => value !== true && value !== false && value !== 0 && value !== 1);
  if (invalid >= 0) throw new Error(`${caller} must hold booleans or 0 and 1 (true = ignore that key), got ${values[invalid]} at flat index ${invalid}`);
  return additiveFromBooleans(values.map((value) => value === true || value === 1), shape, dtype);
}

/**
 * Turns an attention mask into additive form: a tensor is taken as an additive float mask
 * (converted to `dtype`, and kept in the graph, so a learned bias gets gradients), and nested
 * arrays of booleans as a boolean mask (true = may not attend).
 */
export function additiveAttentionMask(mask: Tensor | NestedMask, dtype: Dtype): Tensor {
  const caller = 'MultiheadAttention: attnMask';
  if (mask instanceof Tensor) return mask.to(dtype);

  const { values, shape } = flattenNested(caller, mask);
  const invalid = values.findIndex((value) => typeof value !== 'boolean');
  if (invalid >= 0) {
    throw new Error(`${caller} given as arrays must hold booleans (true = may not attend), got ${values[invalid]} at flat index ${invalid}; pass an additive float mask as a Tensor`);
  }
  return additiveFromBooleans(values as boolean[], shape, dtype);
}
