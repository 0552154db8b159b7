/**
 * Worker threads over the shared WebAssembly memory: Node's worker_threads, or Web Workers in a
 * browser when the page is cross-origin isolated and a worker script URL is set.
 *
 * The main thread is thread 0 and works too. To run a job split into parts, it writes one record
 * per worker into the control block at address 0, sets `pending` to the number of those parts,
 * bumps `generation` and wakes sleeping workers, and runs part 0. A record is run by whichever
 * thread claims it first: its worker (worker.js), or the main thread, which after part 0 claims
 * every part no worker has started. So a worker that the operating system is slow to schedule
 * delays nothing, and the parts stay the same. Then the main thread waits until `pending` is 0.
 *
 * A record's `claim` word contains the job's generation until a thread claims it, by a
 * compare-and-exchange from that generation to a negative value. A worker that wakes late, for a
 * generation already done, finds another number there and leaves the record alone.
 *
 * Workers start in the background and join the calls after they are ready; until then calls use
 * fewer threads. Results do not depend on how many threads join (see gemm-kernels.ts). Idle
 * workers sleep in Atomics.wait, and they are unreferenced, so they never keep a Node process
 * alive.
 */
import { Backoff, workersFellBehind } from './backoff';
import { rowChunkCounters } from './gemm-kernels';
import { inNode, now, requireNode, workerScriptPath } from './host';
import { CONTROL_BYTES, type WasmRuntime } from './runtime';

/** Word indices of the control block, passed to every worker. */
export const controlLayout = {
  words: CONTROL_BYTES / 4,
  generation: 0,
  pending: 1,
  failed: 2,
  /**
   * First of the five counters through which the threads of a GEMM share its work
   * (rowChunkCounters in gemm-kernels.ts). The first one, the rows of A copied so far, is also
   * the word that gemm's rowsReady argument points to.
   */
  counters: 3,
  /** First word of the job records, and words per record. */
  jobs: 16,
  jobWords: 32,
  /** Words within a record. */
  ready: 0,
  /** The generation of the waiting part, CLAIMED_BY_WORKER, or CLAIMED_BY_MAIN. */
  claim: 1,
  /** The job's exported function, as 1 + its index in `functions`. */
  function: 2,
  args: 3,
  argCount: 29,
  functions: ['gemm', 'gemmPackedB', 'gemmRowChunks', 'im2col', 'col2im'] as JobFunction[],
};

/** Words of the shared counters from controlLayout.counters (rowChunkCounters in gemm-kernels.ts). */
const COUNTER_WORDS = Object.keys(rowChunkCounters).length;

/** Kernels that threads can run a part of. */
export type JobFunction = 'gemm' | 'gemmPackedB' | 'gemmRowChunks' | 'im2col' | 'col2im';

/** Values of a record's claim word once a thread has claimed its part; generations are never negative. */
export const CLAIMED_BY_WORKER = -1;
const CLAIMED_BY_MAIN = -2;

/** Workers the control block has records for. */
export const MAX_WORKERS = Math.floor((controlLayout.words - controlLayout.jobs) / controlLayout.jobWords);

/**
 * How long a waiting thread spins before it sleeps. Long enough to bridge the JavaScript work
 * between the small products of a recurrent step (tens to hundreds of microseconds), short
 * enough to give the core back soon after. Waking a sleeping worker costs about 70 µs.
 */
const SPIN_MILLISECONDS = 1;

/** The parts of a Node Worker or a browser Worker that the pool uses. */
interface WorkerHandle {
  terminate(): unknown;
}

interface NodeWorker extends WorkerHandle {
  unref(): void;
  on(event: 'error', listener: (error: Error) => void): void;
}

interface BrowserWorker extends WorkerHandle {
  postMessage(data: unknown): void;
  addEventListener(type: 'error', listener: (event: { message?: string }) => void): void;
}

interface BrowserGlobals {
  Worker?: new (url: string) => BrowserWorker;
  crossOriginIsolated?: boolean;
}

const browser = globalThis as unknown as BrowserGlobals;

/** URL of worker.js for browsers, set with setWorkerScript. */
let browserWorkerScript: string | undefined;

/** Sets the URL from which a browser loads worker.js; see setWorkerScript in ../backend.ts. */
export function setWorkerScriptUrl(url: string): void {
  browserWorkerScript = url;
}

/** Tells whether this environment can start worker threads for the backend. */
export function workersSupported(): boolean {
  if (inNode) return true;
  return typeof browser.Worker === 'function' && browser.crossOriginIsolated === true && browserWorkerScript !== undefined;
}

export class ThreadPool {
  private readonly control: Int32Array;
  private readonly workers: Array<WorkerHandle | undefined> = [];
  private readonly failures: Error[] = [];
  /** Node's main thread may block in Atomics.wait; a browser's main thread may not. */
  private readonly canBlock = inNode;
  private readonly pauses = new Backoff();
  /** The time at which the last call with parts for workers ended. */
  private lastFinished = -Infinity;
  private workerParts = 0;

  /** `backoff: false` keeps offering parts to workers however far they fall behind, for tests. */
  constructor(private readonly runtime: WasmRuntime, private readonly options: { backoff: boolean } = { backoff: true }) {
    this.control = new Int32Array(runtime.memory.buffer, 0, controlLayout.words);
  }

  /** Parts that workers have computed so far. */
  get partsRunByWorkers(): number {
    return this.workerParts;
  }

  /** Tells whether calls run on the main thread alone for now, because workers fell behind. */
  get backingOff(): boolean {
    return this.pauses.paused;
  }

  /** Starts workers until there are `count`, without waiting for them to be ready. */
  start(count: number): void {
    const target = Math.min(count, MAX_WORKERS);
    while (this.workers.length < target) {
      const index = this.workers.length;
      this.workers.push(this.spawn(index));
    }
  }

  /** Returns the indices of up to `limit` workers that have started and wait for jobs. */
  readyWorkers(limit: number): number[] {
    const ready: number[] = [];
    for (let index = 0; index < this.workers.length && ready.length < limit; index++) {
      if (this.workers[index] !== undefined && this.isReady(index)) ready.push(index);
    }
    return ready;
  }

  /** Returns the number of workers that have started and are not ready yet, failed ones excluded. */
  startingWorkers(): number {
    return this.workers.filter((worker, index) => worker !== undefined && !this.isReady(index)).length;
  }

  /** Tells whether worker `index` has set its record's ready word, which worker.js does once it serves jobs. */
  private isReady(index: number): boolean {
    return Atomics.load(this.control, this.record(index) + controlLayout.ready) === 1;
  }

  /** Errors of workers that failed to start or crashed; they take no more jobs. */
  get workerFailures(): readonly Error[] {
    return this.failures;
  }

  /**
   * Runs exported function `job` with arguments `parts[0]` on this thread and offers `parts[t]`
   * to worker `workers[t - 1]`, and returns when every part is done. Throws if a worker's part
   * failed.
   */
  run(job: JobFunction, parts: readonly number[][], workers: readonly number[]): void {
    const generation = this.post(job, parts, workers);
    const started = now();
    (this.runtime.exports[job] as (...args: number[]) => void)(...parts[0]);
    this.finish(job, parts, workers, generation, started);
  }

  /**
   * Sets the shared counters of a GEMM (rowChunkCounters in gemm-kernels.ts) before its parts
   * are posted: `rowsReady` rows of A and `bRowsReady` rows of B in place, and nothing claimed
   * or packed. Returns their byte address, which is also the value of gemm's rowsReady argument.
   */
  resetCounters(rowsReady: number, bRowsReady = 0): number {
    const first = controlLayout.counters;
    this.control.fill(0, first, first + COUNTER_WORDS);
    Atomics.store(this.control, this.counter('bRowsReady'), bRowsReady);
    Atomics.store(this.control, this.counter('rowsReady'), rowsReady);
    return first * Int32Array.BYTES_PER_ELEMENT;
  }

  /** Returns the rows of C that the threads of a gemmRowChunks job have claimed so far. */
  rowsClaimed(): number {
    return Atomics.load(this.control, this.counter('rowsClaimed'));
  }

  /** Publishes that A's first `count` rows are in WebAssembly memory. */
  setRowsReady(count: number): void {
    Atomics.store(this.control, this.counter('rowsReady'), count);
  }

  /** Publishes that B's first `count` rows are in WebAssembly memory. */
  setBRowsReady(count: number): void {
    Atomics.store(this.control, this.counter('bRowsReady'), count);
  }

  /** Returns the word index of one of the shared counters. */
  private counter(name: keyof typeof rowChunkCounters): number {
    return controlLayout.counters + rowChunkCounters[name] / Int32Array.BYTES_PER_ELEMENT;
  }

  /**
   * Offers `parts[t]` to worker `workers[t - 1]` for every t >= 1 and returns at once, with the
   * generation to pass to `finish`. The caller then runs parts[0] itself, possibly after other
   * work, such as copying what its own part reads.
   */
  post(job: JobFunction, parts: readonly number[][], workers: readonly number[]): number {
    const { control } = this;
    // Generations count up modulo 2^30, so they never meet the negative claim values.
    const generation = (Atomics.load(control, controlLayout.generation) + 1) & 0x3fffffff;
    const functionNumber = controlLayout.functions.indexOf(job) + 1;
    for (let t = 1; t < parts.length; t++) {
      const record = this.record(workers[t - 1]);
      control.set(parts[t], record + controlLayout.args);
      Atomics.store(control, record + controlLayout.function, functionNumber);
      Atomics.store(control, record + controlLayout.claim, generation);
    }
    Atomics.store(control, controlLayout.pending, parts.length - 1);
    Atomics.store(control, controlLayout.generation, generation);
    Atomics.notify(control, controlLayout.generation);
    return generation;
  }

  /**
   * Completes a call that `post` started, once this thread has run parts[0]: runs every part
   * that no worker has claimed yet, waits for the others, and throws if a worker's part failed.
   * `started` is when this thread began its own work, and `share` the fraction of the job it
   * computed (by default one part's), so that a late worker can be judged.
   */
  finish(job: JobFunction, parts: readonly number[][], workers: readonly number[], generation: number, started: number, share = 1 / parts.length): void {
    const { control } = this;
    const kernel = this.runtime.exports[job] as (...args: number[]) => void;
    let takenOver = 0;
    for (let t = 1; t < parts.length; t++) {
      const record = this.record(workers[t - 1]);
      if (Atomics.compareExchange(control, record + controlLayout.claim, generation, CLAIMED_BY_MAIN) !== generation) continue;
      kernel(...parts[t]);
      Atomics.sub(control, controlLayout.pending, 1);
      takenOver++;
    }

    const computed = now();
    this.waitForWorkers();
    this.workerParts += parts.length - 1 - takenOver;
    // Workers that slept since the last call start late because they are woken, not because the
    // cores are busy. So only calls posted while they still spun are judged.
    const workersSpun = started - this.lastFinished <= SPIN_MILLISECONDS;
    if (workersSpun) this.judgeWorkers(workersFellBehind({ started, computed, finished: now(), share, takenOver }));
    this.lastFinished = now();
    const failed = Atomics.exchange(control, controlLayout.failed, 0);
    if (failed > 0) throw new Error(`wasm backend: ${failed} worker thread(s) failed while running ${job}`);
  }

  /** Records whether the workers fell behind in a call. After a few such calls in a row, the pool pauses offering them parts. */
  private judgeWorkers(fellBehind: boolean): void {
    if (this.options.backoff) this.pauses.record(fellBehind);
  }

  private waitForWorkers(): void {
    const { control } = this;
    const start = Date.now();
    let pending = Atomics.load(control, controlLayout.pending);
    for (let spins = 1; pending !== 0; spins++) {
      if (this.canBlock && (spins & 1023) === 0 && Date.now() - start > SPIN_MILLISECONDS) {
        Atomics.wait(control, controlLayout.pending, pending);
      }
      pending = Atomics.load(control, controlLayout.pending);
    }
  }

  private record(worker: number): number {
    return controlLayout.jobs + worker * controlLayout.jobWords;
  }

  private spawn(index: number): WorkerHandle | undefined {
    const workerData = {
      module: this.runtime.module,
      memory: this.runtime.memory,
      index,
      layout: controlLayout,
      claimedByWorker: CLAIMED_BY_WORKER,
      spinMilliseconds: SPIN_MILLISECONDS,
    };
    try {
      if (inNode) {
        const { Worker } = requireNode<{ Worker: new (path: string, options: { workerData: unknown }) => NodeWorker }>('node:worker_threads');
        const worker = new Worker(workerScriptPath(), { workerData });
        worker.unref();
        worker.on('error', (error) => this.fail(index, error));
        return worker;
      }
      const url = browserWorkerScript!;
      const worker = new browser.Worker!(url);
      // A browser reports a worker script that did not load, or threw, only through this event.
      worker.addEventListener('error', (event) => this.fail(index, browserWorkerError(url, event)));
      worker.postMessage(workerData);
      return worker;
    } catch (error) {
      this.fail(index, error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
  }

  /** Takes a failed worker out of the pool; the calls go on with fewer threads. */
  private fail(index: number, error: Error): void {
    this.failures.push(error);
    this.workers[index]?.terminate();
    this.workers[index] = undefined;
    Atomics.store(this.control, this.record(index) + controlLayout.ready, 0);
  }
}

/**
 * Describes a browser worker's error event. The event has no message when the script did not
 * load, as Chromium 150 reports a wrong URL or, on a cross-origin isolated page, a response
 * without the Cross-Origin-Embedder-Policy header.
 */
function browserWorkerError(url: string, event: { message?: string }): Error {
  const reason = event.message || 'the script did not load; check that the page serves worker.js at this URL with the header Cross-Origin-Embedder-Policy: require-corp';
  return new Error(`wasm backend: the worker thread from ${url} failed: ${reason}`);
}
