/**
 * The common broadcast layouts of an operand, as blocks that a flat loop can walk.
 *
 * Broadcasting a contiguous operand to a contiguous result usually repeats one run of its
 * elements: a bias [N] added to [B, M, N], a per-task bias [B, 1, N] added to [B, M, N], a
 * column [B, M, 1] or a scalar. An expanded view, with stride 0 on the repeated axes, is read
 * the same way. Each is the result read as [outer, repeat, inner], where block (o, r) of
 * `inner` elements reads the operand's elements o * inner to o * inner + inner - 1. The
 * elementwise drivers walk such blocks with one call of their row loop per block instead of
 * the general odometer over strided axes, and read the same elements.
 */
import { type StridedView, isContiguous } from './view';

/**
 * An operand broadcast to a result of `outer * repeat * inner` elements: result element
 * (o * repeat + r) * inner + i reads operand element o * inner + i.
 *
 * A full-size operand has repeat 1, and a scalar has outer 1 and inner 1.
 */
export interface BroadcastBlocks {
  outer: number;
  repeat: number;
  inner: number;
}

/**
 * Returns the blocks in which `view` broadcasts to a contiguous result of `shape`. Its axes of
 * stride 0 count as broadcast axes, and its other axes must be contiguous. Returns undefined
 * when they are not, or when the broadcast axes are not adjacent, as for [1, M, 1] against
 * [N, M, K], which broadcasts along axes 0 and 2. Axes of size 1 in `shape` are skipped.
 * Shapes that do not broadcast also give undefined, so that the general loop reports them.
 *
 * broadcastBlocks(ndarray(bias, [1, 40]), [25, 10, 40]) is { outer: 1, repeat: 250, inner: 40 }.
 */
export function broadcastBlocks(view: StridedView<ArrayLike<number>>, shape: readonly number[]): BroadcastBlocks | undefined {
  const lead = shape.length - view.shape.length;
  if (lead < 0) return undefined;

  // An axis of stride 0 (an expanded view) repeats one element, as an axis of size 1 does.
  const stored = view.shape.map((dim, axis) => (view.stride[axis] === 0 ? 1 : dim));
  if (!isContiguous({ ...view, shape: stored })) return undefined;

  // Walk the result's axes in order through three phases: kept axes before the broadcast run
  // (outer), the run itself (repeat), then kept axes after it (inner).
  const blocks: BroadcastBlocks = { outer: 1, repeat: 1, inner: 1 };
  let phase: 'outer' | 'repeat' | 'inner' = 'outer';
  for (let axis = 0; axis < shape.length; axis++) {
    const dim = shape[axis];
    const viewDim = axis < lead ? 1 : view.shape[axis - lead];
    if (viewDim !== dim && viewDim !== 1) return undefined;
    if (dim === 1) continue;

    const broadcast = axis < lead || stored[axis - lead] === 1;
    if (broadcast && phase === 'inner') return undefined;
    if (broadcast) phase = 'repeat';
    else if (phase === 'repeat') phase = 'inner';
    blocks[phase] *= dim;
  }

  // Without a broadcast axis every kept axis counted as outer, but the operand is one block.
  if (phase === 'outer') return { outer: 1, repeat: 1, inner: blocks.outer };
  return blocks;
}
