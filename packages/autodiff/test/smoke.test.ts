import { grad, gradcheck, gradgradcheck, tensor, toDot, traceBackward } from '@metagrad/autodiff';

test('smoke: first and second derivative of x^3', () => {
  const x = tensor(2, { requiresGrad: true, dtype: 'float64' });
  const y = x.mul(x).mul(x);
  const [dx] = grad(y, x, { createGraph: true });
  expect(dx.item()).toBe(12);
  const [dxx] = grad(dx, x);
  expect(dxx.item()).toBe(12);
});

test('smoke: gradcheck tanh and matmul', () => {
  const a = tensor([[0.1, -0.3], [0.7, 0.2]], { dtype: 'float64', requiresGrad: true });
  const b = tensor([[0.5], [-1.5]], { dtype: 'float64', requiresGrad: true });
  expect(gradcheck((p, q) => p.matmul(q).tanh(), [a, b])).toBe(true);
  expect(gradgradcheck((p, q) => p.matmul(q).tanh(), [a, b])).toBe(true);
});

test('smoke: trace and dot', () => {
  const w = tensor([[0.5, -1]], { requiresGrad: true, name: 'w' });
  const x = tensor([[1], [2]], { name: 'x' });
  const loss = w.matmul(x).relu().sum().named('loss');
  console.log(traceBackward(loss));
  console.log(toDot(loss));
  console.log(w.toString(), loss.toString());
});
