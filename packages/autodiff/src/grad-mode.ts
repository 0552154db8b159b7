/**
 * Global switches of the autodiff engine: whether ops record the graph, and whether anomaly
 * detection checks every result for NaN and infinity.
 */

let gradEnabled = true;
let anomalyEnabled = false;

/** Tells whether ops currently record the graph for differentiation. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Tells whether anomaly detection is on (see `detectAnomaly`). */
export function isAnomalyEnabled(): boolean {
  return anomalyEnabled;
}

function withSwitch<T>(set: (value: boolean) => boolean, value: boolean, fn: () => T): T {
  const previous = set(value);
  try {
    return fn();
  } finally {
    set(previous);
  }
}

/**
 * Runs `fn` without recording the graph: results do not require gradients. Use it for
 * evaluation and for in-place parameter updates.
 *
 * const y = noGrad(() => model.forward(x)); // y.requiresGrad is false
 */
export function noGrad<T>(fn: () => T): T {
  return withSwitch(setGradEnabled, false, fn);
}

/** Runs `fn` with graph recording on, even inside `noGrad`. */
export function enableGrad<T>(fn: () => T): T {
  return withSwitch(setGradEnabled, true, fn);
}

/** Sets whether ops record the graph, and returns the previous setting. */
export function setGradEnabled(enabled: boolean): boolean {
  const previous = gradEnabled;
  gradEnabled = enabled;
  return previous;
}

/** Sets anomaly detection on or off, and returns the previous setting. */
export function setAnomalyEnabled(enabled: boolean): boolean {
  const previous = anomalyEnabled;
  anomalyEnabled = enabled;
  return previous;
}

/**
 * Runs `fn` with anomaly detection: after every forward op and every backward step, the result
 * is checked for NaN and infinity, and the error names the op and where its tensor was created.
 * Slow; for debugging only.
 */
export function detectAnomaly<T>(fn: () => T): T {
  return withSwitch(setAnomalyEnabled, true, fn);
}
