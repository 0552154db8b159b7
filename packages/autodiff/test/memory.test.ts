/**
 * A long training loop must not keep its graphs alive. After each backward pass every node is
 * released, with neither inputs nor a VJP, so nothing from earlier steps stays reachable.
 */
import { type Node, type Tensor, linear, noGrad, randn } from '@metagrad/autodiff';

const STEPS = 10_000;

/** Collects every node reachable from `output`, before backward releases them. */
function nodesOf(output: Tensor): Node[] {
  const nodes: Node[] = [];
  const seen = new Set<Tensor>();
  const stack = [output];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t) || !t.node) continue;
    seen.add(t);
    nodes.push(t.node);
    stack.push(...t.node.inputs);
  }
  return nodes;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Measures the heap in use, after a full collection when Node runs with --expose-gc. */
function heapUsed(): number {
  gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * Allowed heap growth over the last nine thousand steps. Retaining their graphs takes about
 * 35 MB, measured with --expose-gc on Node 20. After a full collection the growth is near 0.
 * Without one, uncollected garbage of recent steps counts too, so the bound is only a loose check.
 */
const HEAP_GROWTH_BOUND = gc ? 4 * 1024 * 1024 : 32 * 1024 * 1024;

test('training loop releases every graph', () => {
  const x = randn([8, 4], { seed: 1, dtype: 'float64' });
  const target = randn([8, 1], { seed: 2, dtype: 'float64' });
  const params = [
    randn([8, 4], { seed: 3, dtype: 'float64' }).mul(0.5).detach().requiresGrad_(true),
    randn([8], { seed: 4, dtype: 'float64' }).mul(0.1).detach().requiresGrad_(true),
    randn([1, 8], { seed: 5, dtype: 'float64' }).mul(0.5).detach().requiresGrad_(true),
  ];
  const [w1, b1, w2] = params;

  let firstLoss = 0;
  let lastLoss = 0;
  let unreleased = 0;
  let heapAfterWarmUp = 0;

  for (let step = 0; step < STEPS; step++) {
    const prediction = linear(linear(x, w1, b1).tanh(), w2);
    const loss = prediction.sub(target).square().mean();
    const nodes = nodesOf(loss);
    loss.backward();

    for (const node of nodes) {
      if (!node.released || node.inputs.length > 0 || node.vjp !== null) unreleased++;
    }
    noGrad(() => {
      for (const p of params) {
        for (let i = 0; i < p.data.length; i++) p.data[i] -= 0.05 * p.grad!.data[i];
        p.grad = null;
      }
    });

    if (step === 0) firstLoss = loss.item();
    if (step === STEPS - 1) lastLoss = loss.item();
    if (step === 1_000) heapAfterWarmUp = heapUsed();
  }
  const heapAtEnd = heapUsed();

  expect(unreleased).toBe(0);
  expect(lastLoss).toBeLessThan(firstLoss);
  expect(heapAtEnd - heapAfterWarmUp).toBeLessThan(HEAP_GROWTH_BOUND);
});
