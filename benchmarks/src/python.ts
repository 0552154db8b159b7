/**
 * Python twins: a PyTorch version of a case, run as a child process that times itself.
 *
 * A twin is a script in benchmarks/python that times its work with `report_timing` from
 * timing.py, which prints the timing as the last line of its output in JSON. When PyTorch
 * cannot be imported, the side is skipped and the table shows the reason.
 */
import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Measure, Measurement } from './harness';

const execFileAsync = promisify(execFile);

/** The interpreter, /usr/bin/python3 unless METAGRAD_BENCH_PYTHON names another one. */
const python = process.env.METAGRAD_BENCH_PYTHON ?? '/usr/bin/python3';

const twinDirectory = path.resolve(__dirname, '..', 'python');

let torchCheck: Promise<string | undefined> | undefined;

/**
 * Returns a `Measure` that runs `benchmarks/python/<script>` with `args` and reads its timing,
 * or skips when PyTorch is missing.
 */
export function pythonTwin(script: string, args: string[] = []): Measure {
  return async () => {
    const missing = await checkTorch();
    if (missing) return { skipped: missing };

    const scriptPath = path.join(twinDirectory, script);
    // PYTHONDONTWRITEBYTECODE keeps __pycache__ folders out of the source tree.
    const environment = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
    const { stdout } = await execFileAsync(python, [scriptPath, ...args], { env: environment, maxBuffer: 16 * 1024 * 1024 });
    return parseTiming(scriptPath, stdout);
  };
}

/**
 * Python that runs one matrix product in PyTorch and prints, as JSON, the paths of the mapped
 * shared libraries whose names contain "blas": the BLAS that PyTorch actually calls is among them.
 */
const BLAS_PROBE = [
  'import json, torch',
  'torch.ones(64, 64) @ torch.ones(64, 64)',
  'paths = sorted({line.split()[-1] for line in open("/proc/self/maps") if "blas" in line.rsplit("/", 1)[-1].lower()})',
  'print(json.dumps(paths))',
].join('\n');

let blasName: string | undefined;

/**
 * Returns the name of the BLAS that PyTorch loads in a child process with this environment,
 * from the libraries it maps: OpenBLAS, the reference BLAS, or the file names found. Probed once
 * per process. LD_LIBRARY_PATH alone does not tell, because Debian's alternatives may point the
 * default libblas.so.3 at OpenBLAS too.
 */
export function pytorchBlas(): string {
  blasName ??= probeBlas();
  return blasName;
}

function probeBlas(): string {
  let paths: string[];
  try {
    paths = JSON.parse(execFileSync(python, ['-c', BLAS_PROBE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop()!);
  } catch {
    return 'BLAS unknown (PyTorch did not run)';
  }
  if (paths.some((file) => /openblas/i.test(file))) return 'OpenBLAS';
  if (paths.some((file) => file.includes('/blas/'))) return "the reference BLAS (set LD_LIBRARY_PATH to Debian's openblas-pthread folder for OpenBLAS)";
  return paths.length > 0 ? paths.map((file) => path.basename(file)).join(', ') : 'BLAS unknown (no BLAS library mapped)';
}

/** Returns why PyTorch cannot be used, or undefined when it imports. Checked once per process. */
function checkTorch(): Promise<string | undefined> {
  torchCheck ??= execFileAsync(python, ['-c', 'import torch']).then(
    () => undefined,
    (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? `Python not found at ${python}` : `PyTorch not installed: ${python} -c "import torch" failed`),
  );
  return torchCheck;
}

function parseTiming(scriptPath: string, stdout: string): Measurement {
  const lastLine = stdout.trim().split('\n').pop() ?? '';
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(lastLine);
  } catch {
    throw new Error(`${scriptPath}: the last line of output is not JSON (${JSON.stringify(lastLine)}); end the twin with report_timing from timing.py`);
  }

  const { median_ms, min_ms, warmup, repetitions, samples_ms } = parsed;
  if (typeof median_ms !== 'number' || typeof min_ms !== 'number' || typeof warmup !== 'number' || typeof repetitions !== 'number' || !Array.isArray(samples_ms)) {
    throw new Error(`${scriptPath}: timing ${lastLine} lacks median_ms, min_ms, warmup, repetitions or samples_ms`);
  }
  return { medianMs: median_ms, minMs: min_ms, warmup, repetitions, samplesMs: samples_ms };
}
