import { detectAnomaly, isGradEnabled, log, sqrt, where } from '@metagrad/autodiff';
import { leaf, valuesOf } from './helpers';

describe('detectAnomaly', () => {
  test('forward NaN names the op and its call site', () => {
    const x = leaf([-1, 2], [2]);
    expect(() => detectAnomaly(() => log(x))).toThrow(
      /^detectAnomaly: forward of 'log' produced NaN at element 0 of a tensor of shape \[2\] \(op called at .*anomaly\.test\.ts:\d+:\d+\)$/,
    );
  });

  test('backward infinity names the op and its call site', () => {
    const x = leaf([0, 4], [2]);
    expect(() => detectAnomaly(() => sqrt(x).sum().backward())).toThrow(
      /^detectAnomaly: backward of 'sqrt' \(gradient of input 0\) produced Infinity at element 0 of a tensor of shape \[2\] \(op called at .*anomaly\.test\.ts:\d+:\d+\)$/,
    );
  });

  test('backward NaN from an unpicked where branch', () => {
    const x = leaf([0, 4], [2]);
    expect(() => detectAnomaly(() => where(x.gt(0), sqrt(x), 0).sum().backward())).toThrow(/^detectAnomaly: backward of 'sqrt' \(gradient of input 0\) produced NaN/);
  });

  test('backward of a graph built outside names the op only', () => {
    const x = leaf([0, 4], [2]);
    const loss = sqrt(x).sum();
    expect(() => detectAnomaly(() => loss.backward())).toThrow(/^detectAnomaly: backward of 'sqrt' \(gradient of input 0\) produced Infinity at element 0 of a tensor of shape \[2\]$/);
  });

  test('finite computation passes and returns its value', () => {
    const x = leaf([1, 4], [2]);
    const loss = detectAnomaly(() => {
      const y = sqrt(x).sum();
      y.backward();
      return y;
    });
    expect(loss.item()).toBe(3);
    expect(valuesOf(x.grad!)).toEqual([0.5, 0.25]);
  });

  test('is off outside its callback', () => {
    const x = leaf([-1], [1]);
    expect(() => detectAnomaly(() => log(x))).toThrow(/detectAnomaly/);
    expect(valuesOf(log(x))).toEqual([Number.NaN]);
    expect(isGradEnabled()).toBe(true);
  });
});
