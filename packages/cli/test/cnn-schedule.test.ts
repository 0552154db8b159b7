/**
 * The learning-rate schedule of `trainCnn`: cosine over the epochs by default, constant on request.
 */
import { loadImageTask, trainCnn } from '../src';

const small = { epochs: 2, batchSize: 32, lr: 2e-3, optimizer: 'adam' as const, seed: 0, trainLimit: 96, testLimit: 32, progress: false };

test('cosine schedule lowers rate per epoch', () => {
  const cosine = trainCnn(loadImageTask('mnist'), small);
  const constant = trainCnn(loadImageTask('mnist'), { ...small, schedule: 'constant' });

  expect(cosine.losses.slice(0, 3)).toEqual(constant.losses.slice(0, 3));
  expect(cosine.losses.slice(3)).not.toEqual(constant.losses.slice(3));
  expect(cosine.optimizer.lr).toBeCloseTo(0, 12);
});

test('constant schedule keeps the rate', () => {
  const result = trainCnn(loadImageTask('mnist'), { ...small, schedule: 'constant' });

  expect(result.optimizer.lr).toBe(2e-3);
});
