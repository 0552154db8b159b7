'use strict';
/**
 * A worker thread of the WebAssembly backend (threads.ts starts it). It instantiates the kernel
 * module on the shared memory, then serves jobs for as long as the process runs:
 *   1. wait until the control block's generation changes, spinning briefly before sleeping;
 *   2. claim its job record, if the record still waits with that generation in its claim word
 *      (neither done before nor claimed by the main thread), and run it with its arguments;
 *   3. count down `pending`, and wake the main thread when it reaches zero.
 * This file is plain JavaScript so that Node can start it from the sources as well as from dist.
 * It runs as a Node worker (node:worker_threads) or as a browser Web Worker.
 */

function serve(data) {
  const { module, memory, index, layout, claimedByWorker, spinMilliseconds } = data;
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const control = new Int32Array(memory.buffer, 0, layout.words);
  const record = layout.jobs + index * layout.jobWords;

  let seen = Atomics.load(control, layout.generation);
  Atomics.store(control, record + layout.ready, 1);

  for (;;) {
    seen = waitForChange(control, layout.generation, seen, spinMilliseconds);

    // The record is this worker's job only while its claim word holds the generation it woke for.
    if (Atomics.compareExchange(control, record + layout.claim, seen, claimedByWorker) !== seen) continue;
    // Function number f >= 1 names layout.functions[f - 1].
    const job = layout.functions[Atomics.load(control, record + layout.function) - 1];
    try {
      const args = control.subarray(record + layout.args, record + layout.args + layout.argCount);
      exports[job](...args);
    } catch (error) {
      Atomics.add(control, layout.failed, 1);
    }
    if (Atomics.sub(control, layout.pending, 1) === 1) Atomics.notify(control, layout.pending);
  }
}

/**
 * Returns the new value of control[word] once it differs from `seen`. Spinning first avoids the
 * cost of waking a sleeping thread, about 70 µs measured on Node 20, when jobs come in quick
 * succession. Sleeping after `spinMilliseconds` leaves the core to other work.
 */
function waitForChange(control, word, seen, spinMilliseconds) {
  const start = performance.now();
  let value = Atomics.load(control, word);
  for (let spins = 1; value === seen; spins++) {
    if ((spins & 1023) === 0 && performance.now() - start > spinMilliseconds) {
      Atomics.wait(control, word, seen);
    }
    value = Atomics.load(control, word);
  }
  return value;
}

if (typeof require === 'function' && typeof process === 'object' && process.versions && process.versions.node) {
  const { workerData } = require('node:worker_threads');
  serve(workerData);
} else {
  self.onmessage = (event) => serve(event.data);
}
