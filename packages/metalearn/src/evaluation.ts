/**
 * Summaries of per-task results: the mean with its 95% confidence interval, as few-shot papers
 * report accuracy and error over hundreds of held-out tasks.
 */

/** A sample mean with the half-width of its confidence interval. */
export interface MeanInterval {
  mean: number;
  /** Half-width: the interval is mean ± halfWidth. */
  halfWidth: number;
  /** Number of values. */
  count: number;
}

/** The 0.975 quantile of the standard normal distribution, for two-sided 95% intervals. */
const Z_95 = 1.959963984540054;

/**
 * Returns the mean of `values` and the half-width of its 95% confidence interval,
 * 1.96 * s / sqrt(n) with s the sample standard deviation. The normal approximation is close
 * for the hundreds of tasks an evaluation uses; for a handful of values it is too narrow.
 *
 * meanConfidenceInterval([1, 2, 3, 4]); // { mean: 2.5, halfWidth: 1.265..., count: 4 }
 */
export function meanConfidenceInterval(values: readonly number[]): MeanInterval {
  const count = values.length;
  if (count === 0) throw new Error('meanConfidenceInterval: got no values');
  const mean = values.reduce((total, v) => total + v, 0) / count;
  if (count === 1) return { mean, halfWidth: Number.NaN, count };

  const variance = values.reduce((total, v) => total + (v - mean) ** 2, 0) / (count - 1);
  return { mean, halfWidth: (Z_95 * Math.sqrt(variance)) / Math.sqrt(count), count };
}

/** Formats a mean and interval as '0.593 ± 0.041' with `digits` decimals. */
export function formatInterval(interval: MeanInterval, digits = 3): string {
  return `${interval.mean.toFixed(digits)} ± ${interval.halfWidth.toFixed(digits)}`;
}
