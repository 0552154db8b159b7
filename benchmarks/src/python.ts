/**
 * Python twins: a PyTorch version of a case, run as a child process that times itself.
 *
 * A twin is a script in benchmarks/python that times its work with `report_timing` from
 * timing.py, which prints the timing as the last line of its output in JSON. When PyTorch
 * cannot be imported, the side is skipped and the table shows the reason.
 */
import { execFile } from 'node:child_process';
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
