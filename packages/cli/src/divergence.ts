/** The check that stops a training loop once its loss is no longer a finite number. */

/**
 * Throws when `loss`, the training loss of step `step` (counted from 1), is NaN or infinite.
 * Continuing would only fill the weights with NaN, and a run that ends with a NaN loss and
 * exit code 0 looks like a success to scripts.
 */
export function stopIfDiverged(loss: number, step: number, lr: number): void {
  if (Number.isFinite(loss)) return;
  throw new Error(`training diverged: the loss is ${loss} at step ${step}; lower the learning rate (--lr ${lr}) and train again`);
}
