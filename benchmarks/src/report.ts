/**
 * Reports of a suite run: a Markdown table for the terminal and BENCHMARKS.md, and a JSON
 * record in benchmarks/results with the machine and the command that produced it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CaseResult, type Measurement, type Suite, isSkipped } from './harness';
import { tf } from './tfjs';

/** Hardware and software of the run. */
export interface Machine {
  cpu: string;
  cores: number;
  os: string;
  node: string;
  /** TF.js's version, for suites whose peer is TF.js; undefined for the others. */
  tfjs: string | undefined;
  /** Load averages over 1, 5 and 15 minutes when the run started, because other work on the machine skews timings. */
  loadAverage: number[];
}

/** Describes this machine; `withTfjs` adds TF.js's version, for a suite that compares with TF.js. */
export function describeMachine(withTfjs: boolean): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    tfjs: withTfjs ? tf.version_core : undefined,
    loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
  };
}

/** Start time, machine and commit of a suite's run, recorded before the first case. */
export interface RunContext {
  started: Date;
  machine: Machine;
  source: Source | undefined;
}

/** Describes a run of `suite`; TF.js's version is recorded only when the suite's peer is TF.js. */
export function describeRun(suite: Suite): RunContext {
  return { started: new Date(), machine: describeMachine(suite.peer.startsWith('TF.js')), source: describeSource() };
}

/** Describes the run in one line: machine, versions, load and commit. */
export function formatRun(run: RunContext): string {
  const { machine, source } = run;
  const commit = source === undefined ? 'not a git checkout' : `commit ${source.commit.slice(0, 12)}${source.uncommittedChanges ? ' with uncommitted changes' : ''}`;
  const tfjs = machine.tfjs === undefined ? '' : `, TF.js ${machine.tfjs}`;
  return `${machine.cpu}, ${machine.cores} cores, ${machine.os}, Node ${machine.node}${tfjs}, load average ${machine.loadAverage.join(' ')}, ${commit}`;
}

/** The commit that was measured, when the benchmarks run from a git checkout. */
export interface Source {
  commit: string;
  /** Whether tracked files differed from the commit, so the numbers may not match it. */
  uncommittedChanges: boolean;
}

export function describeSource(): Source | undefined {
  const git = (args: string[]) => execFileSync('git', args, { cwd: __dirname, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return { commit: git(['rev-parse', 'HEAD']), uncommittedChanges: git(['status', '--porcelain', '--untracked-files=no']) !== '' };
  } catch {
    return undefined;
  }
}

/** Returns the peer's median time over metagrad's, above 1 when metagrad is faster. */
export function speedRatio(result: CaseResult): number | undefined {
  if (isSkipped(result.metagrad) || isSkipped(result.peer)) return undefined;
  return result.peer.medianMs / result.metagrad.medianMs;
}

/**
 * Formats the results as a Markdown table with one row per case, followed by a legend and
 * the reason for every skipped side.
 */
export function formatTable(suite: Suite, results: CaseResult[]): string {
  const header = [
    'case',
    'runs',
    'metagrad median ms',
    'metagrad min ms',
    'metagrad GFLOP/s',
    `${suite.peer} median ms`,
    `${suite.peer} min ms`,
    `${suite.peer} GFLOP/s`,
    `${suite.peer} / metagrad`,
  ];
  const rows = results.map((result) => {
    const ratio = speedRatio(result);
    return [
      result.name,
      `${formatRuns(result.metagrad)} / ${formatRuns(result.peer)}`,
      ...formatSide(result.metagrad, result.flops),
      ...formatSide(result.peer, result.flops),
      ratio === undefined ? '-' : `${formatNumber(ratio)}x`,
    ];
  });

  const lines = [...alignColumns(header, rows), ''];
  lines.push(`runs: warm-up + timed runs, metagrad / ${suite.peer}. Times are wall-clock; GFLOP/s is from the median.`);
  for (const result of results) {
    for (const [side, measurement] of [['metagrad', result.metagrad], [suite.peer, result.peer]] as const) {
      if (isSkipped(measurement)) lines.push(`${result.name}: ${side} skipped, ${measurement.skipped}`);
    }
  }
  return lines.join('\n');
}

/**
 * Writes the run to benchmarks/results/<suite>-<date>.json and returns the file's path. The
 * date is ISO 8601 in its basic format (20250101T120000Z), which has no colons, so the name
 * is valid on every file system.
 */
export function writeResults(suite: Suite, results: CaseResult[], run: RunContext): string {
  const { started, machine, source } = run;
  const directory = path.resolve(__dirname, '..', 'results');
  const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const file = path.join(directory, `${suite.name}-${stamp}.json`);

  const record = {
    suite: suite.name,
    description: suite.description,
    peer: suite.peer,
    date: started.toISOString(),
    command: ['node', path.relative(process.cwd(), process.argv[1]), ...process.argv.slice(2)].join(' '),
    workingDirectory: process.cwd(),
    source,
    machine,
    results: results.map((result) => ({ ...result, ratio: speedRatio(result) })),
  };

  mkdirSync(directory, { recursive: true });
  writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
  return file;
}

function formatRuns(measurement: Measurement): string {
  return isSkipped(measurement) ? 'skipped' : `${measurement.warmup}+${measurement.repetitions}`;
}

function formatSide(measurement: Measurement, flops: number | undefined): string[] {
  if (isSkipped(measurement)) return ['skipped', 'skipped', 'skipped'];

  const gflops = flops === undefined ? '-' : formatNumber(flops / (measurement.medianMs * 1e6));
  return [formatNumber(measurement.medianMs), formatNumber(measurement.minMs), gflops];
}

/** Three significant digits, without exponent notation, and whole numbers from 100 up. */
function formatNumber(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

/** Pads the cells so the Markdown table also reads as columns in a terminal. */
function alignColumns(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, 3, ...rows.map((row) => row[column].length)));
  const formatRow = (cells: string[]) =>
    '| ' + cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join(' | ') + ' |';
  const rule = '|' + widths.map((width, column) => (column === 0 ? '-'.repeat(width + 2) : '-'.repeat(width + 1) + ':')).join('|') + '|';

  return [formatRow(header), rule, ...rows.map(formatRow)];
}
