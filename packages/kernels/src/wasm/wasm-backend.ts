/**
 * The WebAssembly backend as the kernels call it: a float32 GEMM on strided operands anywhere
 * in JavaScript memory, and scratch buffers inside WebAssembly memory for kernels (conv2d) that
 * build their operands in place.
 *
 * A GEMM call takes these steps:
 *   1. Place each operand. One already in WebAssembly memory is used where it is. Any other is
 *      copied into the arena: as one block when its elements lie close together, else element
 *      by element into a row-major matrix.
 *   2. On one thread: copy the operands in, run gemm, and copy C out when it was staged.
 *   3. On several threads, overlap the copies with the work. The threads claim chunks of rows
 *      of a C at least as tall as it is wide as they go (runInRowChunks). A wider C is split
 *      into one column part per thread (runInColumnParts).
 */
import type { BroadcastBlocks } from '../broadcast-blocks';
import type { ConvGeometry } from '../conv-geometry';
import { type Matrix, transposed } from '../matrix';
import { BYTES_PER_FLOAT, KC, MR, NR, workspaceLayout } from './blocking';
import { now } from './host';
import { type WasmRuntime } from './runtime';
import { ThreadPool, workersSupported } from './threads';

const F = BYTES_PER_FLOAT;
/** A strided operand is copied as one block when the block has at most this many times its elements. */
const MAX_SPAN_RATIO = 2;
/**
 * Below this many multiply-adds, about an 80×80×80 product or 25 µs on one thread, a GEMM runs
 * on one thread. Handing half of it to a worker costs a few microseconds when the worker spins,
 * and about 70 µs when it has to be woken.
 */
const PARALLEL_MIN_MACS = 1 << 19;
/** Below this many elements of the column matrix, im2col and col2im run on one thread. */
const PARALLEL_MIN_ELEMENTS = 1 << 16;
/**
 * A GEMM split by columns copies B whole, before the workers start, when B is one block of at
 * most this many floats (1 MiB). A larger B is copied a column slice at a time, so that this
 * thread's own slice is copied while the workers compute.
 */
const WHOLE_COPY_MAX_FLOATS = 1 << 18;
/**
 * A GEMM at least as tall as it is wide runs on several threads from this many rows of C. A
 * shorter one gives each thread too few chunks (MIN_CHUNK_ROWS in gemm-kernels.ts) to pay for
 * packing a shared copy of B.
 */
const MIN_SHARED_ROWS = 16;
/** A threaded GEMM copies A into WebAssembly memory this many rows at a time, while workers start on the rows already there. */
const ROWS_PER_COPY = 32;

/**
 * The cost of copying one float into WebAssembly memory, in multiply-adds of the GEMM. On the
 * 2-core AMD EPYC this was measured on, a 256 KiB `set` into shared memory took 9-15 µs (0.14-0.23
 * ns per float), and the GEMM took about 0.05 ns per multiply-add.
 */
const COPY_COST_IN_MACS = 4;

/**
 * A threaded GEMM stages its copies at one of this many offsets in turn, when they take at most
 * ROTATED_STAGING_MAX_FLOATS. Memory that a worker used in the last call is still in that core's
 * cache, and this thread's writes to it wait for the other core to release it. Copying a
 * 256×256 B into place took 24 µs at the median, and 10.5 µs three offsets apart.
 */
const STAGING_TURNS = 3;
const ROTATED_STAGING_MAX_FLOATS = 1 << 19;

/** The place of an operand in WebAssembly memory, and the copy that puts it there. */
interface Placement {
  /** Byte address of element (0, 0) and byte strides. */
  address: number;
  rowStride: number;
  colStride: number;
  copy: 'none' | 'block' | 'elements';
  /** For 'block': first element of the source block and its length. */
  blockStart: number;
  blockLength: number;
  /** For 'block' and 'elements': byte address of the destination. */
  destination: number;
  /** Bytes from one matrix of a batch to the next, in WebAssembly memory. */
  batchStride: number;
}

export class WasmBackend {
  private pool: ThreadPool | undefined;
  private threadCount = 1;
  /** The index, below STAGING_TURNS, of the offset at which the last threaded GEMM staged its copies. */
  private stagingTurn = 0;
  /**
   * Flag set while this thread copies operands as workers run a job. A subclass's `subarray` or
   * `set` may run another product then, and it stays on this thread, because a job of its own
   * would reset the shared counters and `pending` of the running one.
   */
  private jobInFlight = false;

  /** `options.backoff` is passed to the thread pool (threads.ts); tests turn it off. */
  constructor(readonly runtime: WasmRuntime, private readonly options: { backoff: boolean } = { backoff: true }) {
    this.pool = this.createPool();
  }

  /** Threads a GEMM may use, this one included. Workers start on the first call that needs them. */
  get threads(): number {
    return this.threadCount;
  }

  /**
   * Sets the threads, which stay 1 without a thread pool. A pool missing since construction is
   * created here when it can be, because a browser allows workers only once setWorkerScript has
   * given worker.js's URL, which may come after this backend was created.
   */
  set threads(count: number) {
    this.pool ??= this.createPool();
    this.threadCount = this.pool ? count : 1;
    this.runtime.reserveWorkspaces(this.threadCount);
  }

  get workerFailures(): readonly Error[] {
    return this.pool?.workerFailures ?? [];
  }

  /** Parts of products and rearrangements that worker threads have computed so far. */
  get partsRunByWorkers(): number {
    return this.pool?.partsRunByWorkers ?? 0;
  }

  /** Number of worker threads started and ready for jobs. */
  readyWorkerCount(): number {
    return this.pool ? this.pool.readyWorkers(this.threadCount - 1).length : 0;
  }

  /** Number of worker threads started that may still become ready. */
  startingWorkerCount(): number {
    return this.pool?.startingWorkers() ?? 0;
  }

  /** Starts `threads - 1` workers, without waiting for them to be ready. */
  startWorkers(): void {
    if (this.threadCount > 1) this.pool?.start(this.threadCount - 1);
  }

  /** Tells whether `count` more floats fit in WebAssembly memory next to what is allocated. */
  fits(count: number): boolean {
    return this.runtime.fits(count);
  }

  /**
   * Runs `body` with the arena's allocations freed afterwards. Views of WebAssembly memory
   * taken inside must not be used after it returns.
   */
  withArena<T>(body: () => T): T {
    const top = this.runtime.mark();
    try {
      return body();
    } finally {
      this.runtime.release(top);
    }
  }

  /**
   * Allocates float32 buffers of the given sizes in the arena, inside `withArena`, and returns
   * views of them. Every buffer a kernel needs must come from one call, because a later
   * allocation may grow the memory and detach earlier views.
   */
  scratch(sizes: readonly number[]): Float32Array[] {
    const addresses = sizes.map((size) => this.runtime.allocate(size));
    const floats = this.runtime.floatView();
    return addresses.map((address, i) => floats.subarray(address / F, address / F + sizes[i]));
  }

  /** Computes C = A·B, or C += A·B, for float32 operands with k >= 1. See `gemm` in ../gemm.ts. */
  gemm(m: number, n: number, k: number, a: Matrix, b: Matrix, c: Matrix, accumulate: boolean): void {
    // A product narrower than a tile fills n of the micro-kernel's NR columns, so compute its
    // transpose instead, Cᵀ = Bᵀ·Aᵀ, whose m columns fill them. Each element is the same sum in
    // the same order, so the bits are those of the product itself. That holds when Cᵀ is
    // computed in place exactly when C would be, because one in place adds to its old values in
    // another order.
    if (n < NR && m > n && this.computedInPlace(c) === this.computedInPlace(transposed(c))) {
      this.gemm(n, m, k, transposed(b), transposed(a), transposed(c), accumulate);
      return;
    }

    // withArena's steps, written out: small products are called often enough that a closure
    // per call shows in profiles.
    const top = this.runtime.mark();
    try {
      // Whether C is in WebAssembly memory is decided before the operands' copies may grow it:
      // a C computed in place adds to its old values in another order than a staged one.
      const cResident = this.computedInPlace(c);
      const tall = m >= n;
      const pitch = roundUpToPanels(n);
      const candidates = this.workersFor(m * n * k);
      if (candidates.length > 0) this.skipRecentStaging(m * k + k * n + m * n + (tall ? k * pitch : 0));
      const aPlace = this.place(a, m, k);
      const bPlace = this.place(b, k, n);
      const cAddress = cResident ? c.data.byteOffset + c.offset * F : this.runtime.allocate(m * n);
      const ldc = cResident ? c.rowStride * F : n * F;

      // Threads share one packed copy of B for a product at least as tall as it is wide, in
      // chunks of rows. With fewer than MIN_SHARED_ROWS rows, or no room for that copy, the
      // product runs on this thread.
      const shared = !tall || (m >= MIN_SHARED_ROWS && this.runtime.fits(k * pitch + m));
      const workers = shared ? candidates : [];
      // Allocated before the view of memory is taken, because an allocation may grow it. The
      // row chunks of a staged C are marked done in `doneRows`, one word per row.
      const packedB = tall && workers.length > 0 ? { address: this.runtime.allocate(k * pitch), k, n, pitch } : undefined;
      const doneRows = packedB !== undefined && !cResident ? this.runtime.allocate(m) : 0;
      const floats = this.runtime.floatView();
      if (workers.length === 0) {
        this.copyIn(aPlace, a, m, k, floats);
        this.copyIn(bPlace, b, k, n, floats);
        this.runOnThisThread(m, n, k, aPlace, bPlace, cAddress, ldc, cResident && accumulate);
        if (!cResident) copyOut(floats, cAddress / F, c, m, n, accumulate);
        return;
      }
      const operands = { a, aPlace, b, bPlace, c, cAddress, ldc, cResident, accumulate };
      if (packedB !== undefined) this.runInRowChunks(m, operands, packedB, doneRows, floats, workers);
      else this.runInColumnParts(m, n, k, operands, floats, workers);
    } finally {
      this.runtime.release(top);
    }
  }

  /** Tells whether gemm computes C where it is, in WebAssembly memory, rather than in a staged copy. */
  private computedInPlace(c: Matrix): boolean {
    return this.runtime.owns(c.data) && c.colStride === 1;
  }

  /**
   * Moves the arena's top by 1, 2, then 0 times `floats` on successive threaded calls that stage
   * at most ROTATED_STAGING_MAX_FLOATS floats. `floats` estimates what a call stages, counting
   * operands already in WebAssembly memory too. Calls of one size then stage at three offsets,
   * while calls of different sizes may overlap.
   */
  private skipRecentStaging(floats: number): void {
    if (floats > ROTATED_STAGING_MAX_FLOATS) return;
    this.stagingTurn = (this.stagingTurn + 1) % STAGING_TURNS;
    if (this.stagingTurn > 0 && this.runtime.fits(STAGING_TURNS * floats)) this.runtime.allocate(this.stagingTurn * floats);
  }

  /**
   * Runs a GEMM at least as tall as it is wide on this thread and `workers` together, with
   * gemmRowChunks (gemm-kernels.ts): the threads pack B into the space `packedB` reserves (its
   * address, k and n, and `pitch` columns of whole panels) unit by unit, then claim chunks of
   * rows of C until none is left. A thread that the operating system runs slowly takes fewer
   * chunks, so no thread waits long for another. The steps:
   *   1. Copy B and A now if their rows cannot be copied a few at a time (column-major).
   *   2. Hand the job to the workers, which start packing B.
   *   3. Copy B, then A, ROWS_PER_COPY rows at a time, counting the rows done: a unit of B
   *      waits only for its own rows of B, and a chunk of C for its own rows of A.
   *   4. Join the job. When C is staged (`doneRows` is not 0), compute one chunk at a time and
   *      after each copy out of C the rows done from the top, so that the workers compute while
   *      this thread copies.
   *   5. Wait for the workers (threads.ts), and copy out the rows of C left.
   */
  private runInRowChunks(m: number, g: ThreadedGemm, packedB: PackedOperand, doneRows: number, floats: Float32Array, workers: number[]): void {
    const { k, n } = packedB;
    const pool = this.pool!;
    const aInRows = rowsCopyable(g.aPlace, g.a, k);
    const bInRows = rowsCopyable(g.bPlace, g.b, n);
    const done = new Int32Array(floats.buffer, doneRows, doneRows === 0 ? 0 : m).fill(0);
    const ownRows = new Int32Array(floats.buffer, this.runtime.workspace(0) + workspaceLayout.rowsComputed, 1);
    let copied = 0;
    ownRows[0] = 0;

    // 1.
    if (!bInRows) this.copyIn(g.bPlace, g.b, k, n, floats);
    if (!aInRows) this.copyIn(g.aPlace, g.a, m, k, floats);

    // 2. Every thread gets the same arguments but its own workspace, and this one a limit of one
    // chunk per call when it copies C out between chunks.
    const counters = pool.resetCounters(aInRows ? 0 : m, bInRows ? 0 : k);
    const args = [0, ...workers.map((_, t) => t + 1)].map((t) => [
      m, n, k,
      g.aPlace.address, g.aPlace.rowStride, g.aPlace.colStride,
      g.bPlace.address, g.bPlace.rowStride, g.bPlace.colStride,
      packedB.address, packedB.pitch, g.cAddress, g.ldc, g.cResident && g.accumulate ? 1 : 0,
      this.runtime.workspace(t), counters, workers.length + 1, doneRows, t === 0 && doneRows !== 0 ? 1 : 0,
    ]);
    const generation = pool.post('gemmRowChunks', args, workers);
    const started = now();
    this.jobInFlight = true;

    try {
      // 3.
      if (bInRows) this.copyRows(g.bPlace, g.b, k, n, floats, (count) => pool.setBRowsReady(count));
      if (aInRows) this.copyRows(g.aPlace, g.a, m, k, floats, (count) => pool.setRowsReady(count));

      // 4.
      do {
        this.runtime.exports.gemmRowChunks(...args[0]);
        copied = copyOutDoneRows(floats, g, n, done, copied);
      } while (doneRows !== 0 && pool.rowsClaimed() < m);
    } finally {
      // Workers spin until the rows of A and B they need are counted. If a copy threw, they are
      // let through and waited for all the same, before the caller releases the memory they use.
      // finish calls none of the caller's code, so nested products cannot start there.
      this.jobInFlight = false;
      pool.setBRowsReady(k);
      pool.setRowsReady(m);
      pool.finish('gemmRowChunks', args, workers, generation, started, ownRows[0] / m);
    }

    // 5.
    if (!g.cResident) copyOutRows(floats, g, n, copied, m - copied);
  }

  /**
   * Runs a GEMM wider than it is tall split by columns between this thread and `workers`, with
   * the copies into WebAssembly memory overlapped with the work. Each part reads all of A and its
   * own column slice of B. The steps:
   *   1. Copy B: whole when it is one block of at most WHOLE_COPY_MAX_FLOATS (one `set` costs
   *      less than a copy per row of each slice), else the workers' slices. Copy A now too if its
   *      rows cannot be copied a block at a time (a column-major A).
   *   2. Hand the workers their parts. This thread's part is the last one.
   *   3. Copy A ROWS_PER_COPY rows at a time and count the rows done in the control block. A
   *      worker's gemm waits for the rows it packs next (gemm-kernels.ts), so the workers compute
   *      while this thread copies. Then copy this thread's slice of B, if B went in slices.
   *   4. Compute this thread's part, then copy it out of C while the workers may still compute,
   *      unless C is contiguous and overwritten: one `set` in step 5 then costs less than a copy
   *      per row of each part.
   *   5. Wait for the workers (threads.ts), then copy their parts out of C.
   * Steps 3 and 4 are work the workers do not have, so this thread's part is smaller by about
   * their cost (COPY_COST_IN_MACS).
   */
  private runInColumnParts(m: number, n: number, k: number, g: ThreadedGemm, floats: Float32Array, workers: number[]): void {
    const threads = workers.length + 1;
    const addToC = g.cResident && g.accumulate;
    const aInRows = rowsCopyable(g.aPlace, g.a, k);
    const bSliced = g.bPlace.copy === 'elements' || (g.bPlace.copy === 'block' && g.bPlace.blockLength > WHOLE_COPY_MAX_FLOATS);
    const cWholeAtOnce = !g.cResident && !g.accumulate && g.c.colStride === 1 && g.c.rowStride === n;
    const cByParts = !g.cResident && !cWholeAtOnce;
    const extraFloats = (aInRows ? m * k : 0) + ((bSliced ? k * n : 0) + (cByParts ? m * n : 0)) / threads;
    const parts = partition(m, n, threads, (COPY_COST_IN_MACS * extraFloats) / (m * n * k));
    const [own, workerParts] = [parts[parts.length - 1], parts.slice(0, -1)];

    const copySlice = (part: Part) => this.copyIn(g.bPlace, g.b, k, n, floats, 1, 0, { first: part.firstCol, count: part.cols, axis: 'cols' });
    const copyOutPart = (part: Part) => {
      const cPart = { ...g.c, offset: g.c.offset + part.firstCol * g.c.colStride };
      copyOutBlock(floats, g.cAddress / F + part.firstCol, n, cPart, m, part.cols, g.accumulate);
    };

    // 1.
    if (bSliced) workerParts.forEach(copySlice);
    else this.copyIn(g.bPlace, g.b, k, n, floats);
    if (!aInRows) this.copyIn(g.aPlace, g.a, m, k, floats);

    // 2. A product too narrow to split has one part, and then no worker is involved.
    const pool = this.pool!;
    const rowsReady = aInRows && workerParts.length > 0 ? pool.resetCounters(0) : 0;
    const args = [own, ...workerParts].map((part, t) => this.partArgs(part, t, k, g.aPlace, g.bPlace, g.cAddress, g.ldc, addToC, t === 0 ? 0 : rowsReady));
    const generation = workerParts.length > 0 ? pool.post('gemm', args, workers) : undefined;
    const started = now();
    this.jobInFlight = generation !== undefined;

    try {
      // 3.
      if (aInRows) this.copyRows(g.aPlace, g.a, m, k, floats, rowsReady !== 0 ? (count) => pool.setRowsReady(count) : undefined);
      if (bSliced) copySlice(own);

      // 4.
      this.runtime.exports.gemm(...(args[0] as Parameters<WasmRuntime['exports']['gemm']>));
      if (cByParts) copyOutPart(own);
    } finally {
      // 5. As in runInRowChunks, workers waiting for rows of A are let through even if a copy threw.
      this.jobInFlight = false;
      if (rowsReady !== 0) pool.setRowsReady(m);
      if (generation !== undefined) pool.finish('gemm', args, workers, generation, started);
    }
    if (cWholeAtOnce) copyOut(floats, g.cAddress / F, g.c, m, n, false);
    if (cByParts) workerParts.forEach(copyOutPart);
  }

  /**
   * Copies an operand ROWS_PER_COPY rows at a time, and after each block passes the count of
   * rows done so far to `copiedRows`, which publishes it to the workers that wait for them.
   */
  private copyRows(placement: Placement, matrix: Matrix, rows: number, cols: number, floats: Float32Array, copiedRows?: (count: number) => void): void {
    for (let first = 0; first < rows; first += ROWS_PER_COPY) {
      const count = Math.min(ROWS_PER_COPY, rows - first);
      this.copyIn(placement, matrix, rows, cols, floats, 1, 0, { first, count, axis: 'rows' });
      copiedRows?.(first + count);
    }
  }

  /**
   * Computes C_i = A_i·B_i for i < count, float32, where each operand's matrix i starts `step`
   * elements after matrix i - 1 (a step of 0 shares one matrix). It is gemm over a batch, but
   * each operand is placed in WebAssembly memory once, so small products do not each pay for
   * their own copies.
   */
  gemmBatch(count: number, m: number, n: number, k: number, a: Matrix, aStep: number, b: Matrix, bStep: number, c: Matrix, cStep: number): void {
    const top = this.runtime.mark();
    try {
      const cResident = this.computedInPlace(c);
      const aPlace = this.place(a, m, k, count, aStep);
      const bPlace = this.place(b, k, n, count, bStep);
      const cAddress = cResident ? c.data.byteOffset + c.offset * F : this.runtime.allocate(count * m * n);
      const ldc = cResident ? c.rowStride * F : n * F;
      const cBatchStride = cResident ? cStep * F : m * n * F;

      const floats = this.runtime.floatView();
      this.copyIn(aPlace, a, m, k, floats, count, aStep);
      this.copyIn(bPlace, b, k, n, floats, count, bStep);
      for (let i = 0; i < count; i++) {
        const aAt = { ...aPlace, address: aPlace.address + i * aPlace.batchStride };
        const bAt = { ...bPlace, address: bPlace.address + i * bPlace.batchStride };
        this.run(m, n, k, aAt, bAt, cAddress + i * cBatchStride, ldc, false);
      }
      if (!cResident) {
        for (let i = 0; i < count; i++) copyOut(floats, cAddress / F + i * m * n, { ...c, offset: c.offset + i * cStep }, m, n, false);
      }
    } finally {
      this.runtime.release(top);
    }
  }

  /**
   * Packs the k×n float32 matrix `b` into the panels that gemmPacked reads, in the arena. Call it
   * inside withArena and before `scratch`, because it may grow the memory. A recurrence
   * multiplies by the same weight at every step and packs it once this way.
   */
  packOperand(b: Matrix, k: number, n: number): PackedOperand {
    const pitch = roundUpToPanels(n);
    const address = this.runtime.allocate(k * pitch);

    // The placed copy of b is only needed while packing.
    const top = this.runtime.mark();
    try {
      const place = this.place(b, k, n);
      this.copyIn(place, b, k, n, this.runtime.floatView());
      const depthStep = depthStepOf(k);
      for (let pc = 0; pc < k; pc += depthStep) {
        const depth = Math.min(depthStep, k - pc);
        this.runtime.exports.packB(place.address + pc * place.rowStride, place.rowStride, place.colStride, depth, n, address + pc * pitch * F);
      }
    } finally {
      this.runtime.release(top);
    }
    return { address, k, n, pitch };
  }

  /**
   * Computes C = A·B, or C += A·B, with B packed by packOperand. A and C are float32 views of
   * WebAssembly memory (from `scratch`), C with unit column stride. The sums are the same as
   * gemm's for the same operands.
   */
  gemmPacked(m: number, a: Matrix, b: PackedOperand, c: Matrix, accumulate: boolean): void {
    const address = (matrix: Matrix) => matrix.data.byteOffset + matrix.offset * F;
    const [aAddress, cAddress] = [address(a), address(c)];
    const part = (p: Part, t: number) => [
      p.rows, p.cols, b.k,
      aAddress + p.firstRow * a.rowStride * F, a.rowStride * F, a.colStride * F,
      b.address, b.pitch, p.firstCol,
      cAddress + (p.firstRow * c.rowStride + p.firstCol) * F, c.rowStride * F, accumulate ? 1 : 0,
      this.runtime.workspace(t),
    ];

    const workers = this.workersFor(m * b.n * b.k);
    const parts = partition(m, b.n, workers.length + 1).map(part);
    if (parts.length === 1) {
      this.runtime.exports.gemmPackedB(...parts[0]);
      return;
    }
    this.pool!.run('gemmPackedB', parts, workers);
  }

  /**
   * Runs im2col or col2im (see conv-kernels.ts) for channel group `group` between an image batch
   * and the column matrix `col` [Cg * KH * KW, N * OH * OW], both in WebAssembly memory. The
   * image is x for im2col and dx for col2im, with element (n, c, h, w) at
   * `image[offset + n * strides[0] + c * strides[1] + h * strides[2] + w * strides[3]]`.
   * Threads split the batch by images.
   */
  rearrange(kind: 'im2col' | 'col2im', geometry: ConvGeometry, image: Float32Array, offset: number, strides: readonly number[], group: number, col: Float32Array): void {
    const { batch, inChannels, groups, kernelHeight, kernelWidth, strideH, strideW, dilationH, dilationW, padTop, padLeft, height, width, outHeight, outWidth } = geometry;
    const groupChannels = inChannels / groups;
    const [imageStride, channelStride, rowStride, pixelStride] = strides.map((stride) => stride * F);
    const imageAddress = image.byteOffset + offset * F + group * groupChannels * channelStride;
    const positions = outHeight * outWidth;
    const geometryArgs = (images: number) => [
      imageStride, channelStride, rowStride, pixelStride,
      images, groupChannels, kernelHeight, kernelWidth, strideH, strideW, dilationH, dilationW,
      padTop, padLeft, height, width, outHeight, outWidth, batch * positions * F,
    ];

    const elements = groupChannels * kernelHeight * kernelWidth * batch * positions;
    const wanted = elements >= PARALLEL_MIN_ELEMENTS ? Math.min(this.threadCount, batch) : 1;
    const workers = wanted > 1 && this.pool ? this.readyWorkers(wanted - 1) : [];
    const count = workers.length + 1;
    const parts = Array.from({ length: count }, (_, t) => {
      const first = Math.round((batch * t) / count);
      const images = Math.round((batch * (t + 1)) / count) - first;
      const imagePart = imageAddress + first * imageStride;
      const colPart = col.byteOffset + first * positions * F;
      return kind === 'im2col' ? [imagePart, colPart, ...geometryArgs(images)] : [colPart, imagePart, ...geometryArgs(images)];
    });

    if (parts.length === 1) {
      this.runtime.exports[kind](...parts[0]);
      return;
    }
    this.pool!.run(kind, parts, workers);
  }

  /**
   * Runs the LSTM cell kernel (lstm-kernels.ts) for `rows` rows: pre-activations z [rows, 4H] at
   * z[zAt], the bias [4H], the cell state's rows cellRowStride elements apart from cell[cellAt],
   * and results saved [rows, 5H] at saved[savedAt] and state [rows, 2H] at state[stateAt]. Every
   * array is a view of WebAssembly memory, taken inside withArena; offsets are in elements.
   */
  lstmCell(
    rows: number, hidden: number,
    z: Float32Array, zAt: number, bias: Float32Array,
    cell: Float32Array, cellAt: number, cellRowStride: number,
    saved: Float32Array, savedAt: number, state: Float32Array, stateAt: number,
  ): void {
    const address = (view: Float32Array, at: number) => view.byteOffset + at * F;
    this.runtime.exports.lstmCell(
      rows, hidden,
      address(z, zAt), 4 * hidden * F, address(bias, 0),
      address(cell, cellAt), cellRowStride * F,
      address(saved, savedAt), 5 * hidden * F, address(state, stateAt), 2 * hidden * F,
    );
  }

  /**
   * Runs the LSTM cell's backward kernel (lstm-kernels.ts) for `rows` rows: [dh' | dc'] rows of
   * `grad` gradRowStride elements apart from grad[gradAt], the carried gradients carriedH and
   * carriedC [rows, H], saved [rows, 5H] at saved[savedAt], the cell state's rows cellRowStride
   * apart from cell[cellAt], and dz [rows, 4H] at dz[dzAt]. Every array is a view of WebAssembly
   * memory, taken inside withArena; offsets are in elements.
   */
  lstmCellBackward(
    rows: number, hidden: number,
    grad: Float32Array, gradAt: number, gradRowStride: number,
    carriedH: Float32Array, carriedC: Float32Array,
    saved: Float32Array, savedAt: number,
    cell: Float32Array, cellAt: number, cellRowStride: number,
    dz: Float32Array, dzAt: number,
  ): void {
    const address = (view: Float32Array, at: number) => view.byteOffset + at * F;
    this.runtime.exports.lstmCellBackward(
      rows, hidden,
      address(grad, gradAt), gradRowStride * F, address(carriedH, 0), address(carriedC, 0),
      address(saved, savedAt), 5 * hidden * F, address(cell, cellAt), cellRowStride * F,
      address(dz, dzAt), 4 * hidden * F,
    );
  }

  /**
   * Runs the binary kernel `name` (elementwise-kernels.ts) over a contiguous float32 result of
   * outer * repeat * inner elements at out[outOffset], with operands in JavaScript memory. A
   * `full` operand has one element per result element from its offset. Any other repeats
   * `outer` blocks of `inner` elements `repeat` times. Returns false, having written nothing,
   * for blocks of fewer than MIN_BLOCK_FLOATS elements, unless one value repeats over the whole
   * result. The lanes of short blocks run one at a time, and the loops do that faster.
   */
  binaryBlocks(name: string, x: BlockOperand, y: BlockOperand, out: Float32Array, outOffset: number, blocks: BroadcastBlocks, scalar = 0): boolean {
    const { outer, repeat, inner } = blocks;
    const count = outer * repeat * inner;

    // One value repeated over the whole result becomes a block of SPLAT_FLOATS copies of it.
    const splat = inner === 1 && outer === 1 && repeat > 1;
    if (inner < MIN_BLOCK_FLOATS && !splat) return false;
    const shape = splat ? { outer: 1, repeat: Math.floor(count / SPLAT_FLOATS), inner: SPLAT_FLOATS } : blocks;
    const blockFloats = (operand: BlockOperand) => {
      if (operand.full) return count;
      return splat ? SPLAT_FLOATS : outer * inner;
    };

    return this.withArena(() => {
      const [xAddress, yAddress, outAddress] = [blockFloats(x), blockFloats(y), count].map((size) => this.runtime.allocate(size));
      const floats = this.runtime.floatView();
      for (const [operand, address] of [[x, xAddress], [y, yAddress]] as const) {
        if (splat && !operand.full) floats.fill(operand.data[operand.offset], address / F, address / F + SPLAT_FLOATS);
        else floats.set(operand.data.subarray(operand.offset, operand.offset + blockFloats(operand)), address / F);
      }

      // The blocks, then, for a repeated value, the elements past the last whole block of it.
      const run = (first: number, part: BroadcastBlocks) => {
        const strides = (operand: BlockOperand) => (operand.full ? [part.repeat * part.inner * F, part.inner * F] : [part.inner * F, 0]);
        const start = (operand: BlockOperand, address: number) => address + (operand.full ? first * F : 0);
        this.runtime.exports[name](
          start(x, xAddress), ...strides(x), start(y, yAddress), ...strides(y), outAddress + first * F, part.outer, part.repeat, part.inner, scalar,
        );
      };
      run(0, shape);
      const done = shape.outer * shape.repeat * shape.inner;
      if (done < count) run(done, { outer: 1, repeat: 1, inner: count - done });

      out.set(floats.subarray(outAddress / F, outAddress / F + count), outOffset);
      return true;
    });
  }

  /** Computes relu of `count` contiguous float32 elements from x[xOffset] into out[outOffset]. */
  relu(x: Float32Array, xOffset: number, out: Float32Array, outOffset: number, count: number): void {
    this.withArena(() => {
      const [xAddress, outAddress] = [count, count].map((size) => this.runtime.allocate(size));
      const floats = this.runtime.floatView();
      floats.set(x.subarray(xOffset, xOffset + count), xAddress / F);
      this.runtime.exports.relu(xAddress, outAddress, count);
      out.set(floats.subarray(outAddress / F, outAddress / F + count), outOffset);
    });
  }

  /**
   * Sums x [outer, reduced, inner], contiguous float32 from x[xOffset], over its middle axis into
   * out [outer, inner] from out[outOffset], with sumRows (reduce-kernels.ts).
   */
  sumRows(x: Float32Array, xOffset: number, outer: number, reduced: number, inner: number, out: Float32Array, outOffset: number): void {
    const count = outer * reduced * inner;
    this.withArena(() => {
      // The float64 totals take two floats each.
      const [xAddress, totals, outAddress] = [count, 2 * inner, outer * inner].map((size) => this.runtime.allocate(size));
      const floats = this.runtime.floatView();
      floats.set(x.subarray(xOffset, xOffset + count), xAddress / F);
      this.runtime.exports.sumRows(xAddress, outer, reduced, inner, totals, outAddress);
      out.set(floats.subarray(outAddress / F, outAddress / F + outer * inner), outOffset);
    });
  }

  /**
   * Decides where an operand goes and allocates its copy; copies nothing yet. `count` matrices
   * `step` elements apart are placed together, for gemmBatch.
   */
  private place(matrix: Matrix, rows: number, cols: number, count = 1, step = 0): Placement {
    const { data, offset, rowStride, colStride } = matrix;
    if (this.runtime.owns(data)) {
      const address = data.byteOffset + offset * F;
      return { address, rowStride: rowStride * F, colStride: colStride * F, copy: 'none', blockStart: 0, blockLength: 0, destination: 0, batchStride: step * F };
    }

    const last = (count - 1) * step;
    const low = offset + Math.min(0, (rows - 1) * rowStride) + Math.min(0, (cols - 1) * colStride) + Math.min(0, last);
    const high = offset + Math.max(0, (rows - 1) * rowStride) + Math.max(0, (cols - 1) * colStride) + Math.max(0, last);
    const blockLength = high - low + 1;
    const matrices = step === 0 ? 1 : count;
    if (blockLength <= MAX_SPAN_RATIO * matrices * rows * cols) {
      const destination = this.runtime.allocate(blockLength);
      const address = destination + (offset - low) * F;
      return { address, rowStride: rowStride * F, colStride: colStride * F, copy: 'block', blockStart: low, blockLength, destination, batchStride: step * F };
    }

    const destination = this.runtime.allocate(matrices * rows * cols);
    const batchStride = step === 0 ? 0 : rows * cols * F;
    return { address: destination, rowStride: cols * F, colStride: F, copy: 'elements', blockStart: 0, blockLength: 0, destination, batchStride };
  }

  /**
   * Copies an operand to its placement: all of it, or with `range` only rows (or columns)
   * [first, first + count) of a single matrix.
   */
  private copyIn(placement: Placement, matrix: Matrix, rows: number, cols: number, floats: Float32Array, count = 1, step = 0, range?: CopyRange): void {
    const { data, offset, rowStride, colStride } = matrix;
    if (placement.copy === 'none') return;
    if (range !== undefined) {
      copyRange(placement, matrix, rows, cols, floats, range);
      return;
    }
    if (placement.copy === 'block') {
      floats.set(data.subarray(placement.blockStart, placement.blockStart + placement.blockLength), placement.destination / F);
      return;
    }

    // Element (i, p) of matrix t goes to row-major position (t * rows + i) * cols + p.
    let d = placement.destination / F;
    const matrices = step === 0 ? 1 : count;
    for (let t = 0; t < matrices; t++) {
      for (let i = 0; i < rows; i++) {
        let s = offset + t * step + i * rowStride;
        for (let p = 0; p < cols; p++, s += colStride) floats[d++] = data[s];
      }
    }
  }

  /** Splits C among the threads that are ready and runs every part. */
  private run(m: number, n: number, k: number, a: Placement, b: Placement, c: number, ldc: number, accumulate: boolean): void {
    const workers = this.workersFor(m * n * k);
    if (workers.length === 0) {
      this.runOnThisThread(m, n, k, a, b, c, ldc, accumulate);
      return;
    }

    const parts = partition(m, n, workers.length + 1).map((part, t) => this.partArgs(part, t, k, a, b, c, ldc, accumulate));
    this.pool!.run('gemm', parts, workers);
  }

  /** Runs a whole product on this thread, with its operands already in place. */
  private runOnThisThread(m: number, n: number, k: number, a: Placement, b: Placement, c: number, ldc: number, accumulate: boolean): void {
    const workspace = this.runtime.workspace(0);
    const add = accumulate ? 1 : 0;
    this.runtime.exports.gemm(m, n, k, a.address, a.rowStride, a.colStride, b.address, b.rowStride, b.colStride, c, ldc, add, workspace, 0, 0);
  }

  /**
   * Returns the arguments of the gemm export for thread t's part of C. `rowsReady` is the byte
   * address of the count of A's rows copied so far when A is still being copied, else 0.
   */
  private partArgs(part: Part, t: number, k: number, a: Placement, b: Placement, c: number, ldc: number, accumulate: boolean, rowsReady = 0): number[] {
    return [
      part.rows, part.cols, k,
      a.address + part.firstRow * a.rowStride, a.rowStride, a.colStride,
      b.address + part.firstCol * b.colStride, b.rowStride, b.colStride,
      c + part.firstRow * ldc + part.firstCol * F, ldc, accumulate ? 1 : 0,
      this.runtime.workspace(t),
      rowsReady, part.firstRow,
    ];
  }

  /** Returns the workers to split a product of `macs` multiply-adds with: none for a small one. */
  private workersFor(macs: number): number[] {
    return macs >= PARALLEL_MIN_MACS && this.threadCount > 1 && this.pool ? this.readyWorkers(this.threadCount - 1) : [];
  }

  private createPool(): ThreadPool | undefined {
    return this.runtime.options.sharedMemory && workersSupported() ? new ThreadPool(this.runtime, this.options) : undefined;
  }

  /** Returns up to `count` workers to offer parts to: none while the pool backs off or a job's copies run (jobInFlight). */
  private readyWorkers(count: number): number[] {
    this.startWorkers();
    return this.pool!.backingOff || this.jobInFlight ? [] : this.pool!.readyWorkers(count);
  }
}

/** A k×n matrix packed in WebAssembly memory (by packOperand, or by the threads of gemmRowChunks), its panels `pitch` columns wide in all. */
export interface PackedOperand {
  address: number;
  k: number;
  n: number;
  pitch: number;
}

/** Columns of B packed in whole panels of NR: n rounded up to a multiple of NR. */
function roundUpToPanels(n: number): number {
  return Math.ceil(n / NR) * NR;
}

/** Returns the depth of gemm's blocks for depth k, cut as setDepthStep in gemm-kernels.ts cuts it: ceil(k / KC) blocks of equal depth. */
function depthStepOf(k: number): number {
  const blocks = Math.ceil(k / KC);
  return Math.ceil(k / blocks);
}

/** The operands of a threaded GEMM and where each one is in WebAssembly memory. */
interface ThreadedGemm {
  a: Matrix;
  aPlace: Placement;
  b: Matrix;
  bPlace: Placement;
  c: Matrix;
  cAddress: number;
  ldc: number;
  cResident: boolean;
  accumulate: boolean;
}

/** One thread's block of C: rows [firstRow, firstRow + rows) and columns [firstCol, firstCol + cols). */
interface Part {
  firstRow: number;
  rows: number;
  firstCol: number;
  cols: number;
}

/**
 * Splits an m×n C into at most `threads` blocks, along the longer side and on tile boundaries
 * (16 columns or 2 rows), so that no tile is shared between threads. Each thread packs the whole
 * of the operand along the other side, and splitting the longer side keeps that shorter operand
 * the one that every thread packs.
 *
 * The blocks are of nearly equal size, except that the last one is smaller when its thread has
 * other work: `lead` is that work as a fraction of the product. Every block but the last then
 * takes (1 + lead) / threads of the product, and each block keeps at least one tile.
 */
export function partition(m: number, n: number, threads: number, lead = 0): Part[] {
  const byColumns = n >= m;
  const length = byColumns ? n : m;
  const unit = byColumns ? NR : MR;
  const units = Math.ceil(length / unit);
  const count = Math.max(1, Math.min(threads, units));

  const parts: Part[] = [];
  let startUnit = 0;
  for (let t = 0; t < count; t++) {
    const share = Math.round((units * (t + 1) * (1 + lead)) / count);
    const endUnit = t === count - 1 ? units : Math.min(units - (count - 1 - t), Math.max(startUnit + 1, share));
    const [start, end] = [startUnit * unit, Math.min(length, endUnit * unit)];
    parts.push(byColumns ? { firstRow: 0, rows: m, firstCol: start, cols: end - start } : { firstRow: start, rows: end - start, firstCol: 0, cols: n });
    startUnit = endUnit;
  }
  return parts;
}

/**
 * Tells whether an operand can be copied into WebAssembly memory a block of rows at a time, with
 * one `set` or one pass per block. That holds when it is copied element by element, or when it
 * is a block whose rows are contiguous and in order.
 */
function rowsCopyable(placement: Placement, matrix: Matrix, cols: number): boolean {
  if (placement.copy === 'elements') return true;
  return placement.copy === 'block' && matrix.colStride === 1 && matrix.rowStride >= cols;
}

/** An operand of binaryBlocks: a full-size one, or one whose blocks repeat. */
export interface BlockOperand {
  data: Float32Array;
  offset: number;
  full: boolean;
}

/** Floats in the block that a repeated single value becomes, for the vector loop. */
const SPLAT_FLOATS = 64;
/** The shortest blocks that binaryBlocks runs: one vector. */
const MIN_BLOCK_FLOATS = 4;

/** Rows or columns [first, first + count) of one operand, for a partial copyIn. */
interface CopyRange {
  first: number;
  count: number;
  axis: 'rows' | 'cols';
}

/**
 * Copies rows or columns `range` of `matrix` to its placement ('block' or 'elements'). In a block,
 * each row of a row-major matrix and each column of a column-major one is copied as one run.
 */
function copyRange(placement: Placement, matrix: Matrix, rows: number, cols: number, floats: Float32Array, range: CopyRange): void {
  const { data, offset, rowStride, colStride } = matrix;
  const [firstRow, lastRow] = range.axis === 'rows' ? [range.first, range.first + range.count] : [0, rows];
  const [firstCol, colEnd] = range.axis === 'cols' ? [range.first, range.first + range.count] : [0, cols];

  if (placement.copy === 'block') {
    // The block keeps the source's layout, so element s of `data` goes to s + shift.
    const shift = placement.destination / F - placement.blockStart;
    if (range.axis === 'rows' && colStride === 1 && rowStride >= cols) {
      // Contiguous rows in order: one run from the first element of the first row to the last
      // of the last row, with whatever lies between rows, which the whole block holds too.
      const [s, end] = [offset + firstRow * rowStride, offset + (lastRow - 1) * rowStride + cols];
      floats.set(data.subarray(s, end), s + shift);
      return;
    }
    if (range.axis === 'cols' && rowStride === 1 && colStride >= rows) {
      // The same for contiguous columns in order, such as a slice of a transposed row-major B.
      const [s, end] = [offset + firstCol * colStride, offset + (colEnd - 1) * colStride + rows];
      floats.set(data.subarray(s, end), s + shift);
      return;
    }
    if (rowStride === 1 && colStride !== 1) {
      for (let p = firstCol; p < colEnd; p++) {
        const s = offset + firstRow + p * colStride;
        floats.set(data.subarray(s, s + lastRow - firstRow), s + shift);
      }
      return;
    }
    for (let i = firstRow; i < lastRow; i++) {
      const s = offset + i * rowStride + firstCol * colStride;
      if (colStride === 1) {
        floats.set(data.subarray(s, s + colEnd - firstCol), s + shift);
        continue;
      }
      for (let p = firstCol, t = s; p < colEnd; p++, t += colStride) floats[t + shift] = data[t];
    }
    return;
  }

  // 'elements': element (i, p) goes to row-major position i * cols + p.
  for (let i = firstRow; i < lastRow; i++) {
    let d = placement.destination / F + i * cols + firstCol;
    for (let p = firstCol, s = offset + i * rowStride + firstCol * colStride; p < colEnd; p++, s += colStride) floats[d++] = data[s];
  }
}

/**
 * Copies out of a staged C the chunks of rows that `done` marks, from row `first` down to the
 * first chunk not done yet, and returns the row after the last one copied.
 */
function copyOutDoneRows(floats: Float32Array, g: ThreadedGemm, n: number, done: Int32Array, first: number): number {
  let row = first;
  while (row < done.length) {
    const rows = Atomics.load(done, row);
    if (rows === 0) break;
    row += rows;
  }
  copyOutRows(floats, g, n, first, row - first);
  return row;
}

/** Copies rows [first, first + count) of a staged C out to the caller's C. */
function copyOutRows(floats: Float32Array, g: ThreadedGemm, n: number, first: number, count: number): void {
  if (count === 0) return;
  const cRows = { ...g.c, offset: g.c.offset + first * g.c.rowStride };
  copyOutBlock(floats, g.cAddress / F + first * n, n, cRows, count, n, g.accumulate);
}

/** Copies (or adds) the row-major m×n block at `floats[start]` into the strided matrix C. */
function copyOut(floats: Float32Array, start: number, c: Matrix, m: number, n: number, accumulate: boolean): void {
  copyOutBlock(floats, start, n, c, m, n, accumulate);
}

/**
 * Copies (or adds) an m×n block at `floats[start]`, whose rows are `pitch` floats apart, into the
 * strided matrix C.
 */
function copyOutBlock(floats: Float32Array, start: number, pitch: number, c: Matrix, m: number, n: number, accumulate: boolean): void {
  const { data, offset, rowStride, colStride } = c;
  if (!accumulate && colStride === 1 && rowStride === n && pitch === n) {
    data.set(floats.subarray(start, start + m * n), offset);
    return;
  }
  if (!accumulate && colStride === 1) {
    for (let i = 0; i < m; i++) data.set(floats.subarray(start + i * pitch, start + i * pitch + n), offset + i * rowStride);
    return;
  }

  for (let i = 0; i < m; i++) {
    let d = offset + i * rowStride;
    let s = start + i * pitch;
    for (let j = 0; j < n; j++, d += colStride) data[d] = accumulate ? data[d] + floats[s++] : floats[s++];
  }
}
