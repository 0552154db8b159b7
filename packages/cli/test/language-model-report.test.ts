/**
 * The --report folder of `metagrad train lm`, written from a tiny real training run in-process.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMobyDick } from '@metagrad/data';
import { type LanguageModelTrainingConfig, trainLanguageModel } from '../src/text/language-model-training';
import { writeLanguageModelReport } from '../src/text/text-report';
import { parse } from './command-line';

let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'metagrad-lm-report-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

const tinyLstm = { architecture: 'lstm' as const, contextLength: 8, width: 8, layers: 1, dropout: 0, seed: 0 };
const shortRun: LanguageModelTrainingConfig = {
  steps: 4,
  batchSize: 4,
  lr: 1e-2,
  warmupSteps: 1,
  clipNorm: 1,
  heldOutFraction: 0.1,
  evalEvery: 2,
  evalCharacters: 200,
  sampleLength: 10,
  progress: false,
};

/** Returns the step numbers of the "--- step N, ..." headers in samples.txt, in order. */
function sampleSteps(samples: string): number[] {
  return Array.from(samples.matchAll(/^--- step (\d+),/gm), (match) => Number(match[1]));
}

describe('language model report', () => {
  test('samples list each step once', async () => {
    const result = trainLanguageModel(loadMobyDick().slice(0, 3_000), tinyLstm, shortRun);
    // The last measurement during training and the final one share step 4.
    expect(result.evaluations.map((e) => e.step)).toEqual([2, 4]);
    expect(result.final.step).toBe(4);

    const dir = join(workDir, 'multiple-of-eval-every');
    await writeLanguageModelReport(dir, result, {});
    const samples = readFileSync(join(dir, 'samples.txt'), 'utf8');

    expect(sampleSteps(samples)).toEqual([2, 4]);
    expect(samples).toContain(`--- step 4, ${result.final.bitsPerCharacter.toFixed(3)} bits per character on ${result.final.characters.toLocaleString('en-US')} held-out characters ---`);
  });

  test('samples keep every step otherwise', async () => {
    const result = trainLanguageModel(loadMobyDick().slice(0, 3_000), tinyLstm, { ...shortRun, steps: 5 });
    expect(result.final.step).toBe(5);

    const dir = join(workDir, 'not-multiple-of-eval-every');
    await writeLanguageModelReport(dir, result, {});
    const samples = readFileSync(join(dir, 'samples.txt'), 'utf8');

    expect(sampleSteps(samples)).toEqual([2, 4, 5]);
  });
});

describe('train lm summary.json', () => {
  /** Runs `train lm` in-process on a short text with tiny sizes and returns the parsed summary.json. */
  async function trainedSummary(name: string, extraArgs: string[]): Promise<{ model: Record<string, unknown> }> {
    const textPath = join(workDir, 'moby.txt');
    writeFileSync(textPath, loadMobyDick().slice(0, 3_000));
    const report = join(workDir, name);
    const log = jest.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const { error } = await parse([
        'train', 'lm', '--text', textPath, '--width', '8', '--layers', '1', '--context', '8', '--steps', '2', '--batch-size', '2',
        '--eval-chars', '100', '--sample-length', '5', '--no-progress', '--report', report, ...extraArgs,
      ]);
      expect(error).toBeUndefined();
    } finally {
      log.mockRestore();
    }
    return JSON.parse(readFileSync(join(report, 'summary.json'), 'utf8'));
  }

  test('lstm model has no heads', async () => {
    const summary = await trainedSummary('lstm-summary', ['--arch', 'lstm']);

    expect(summary.model.architecture).toBe('lstm');
    expect(summary.model).not.toHaveProperty('heads');
  });

  test('transformer model records heads', async () => {
    const summary = await trainedSummary('transformer-summary', ['--arch', 'transformer', '--heads', '2']);

    expect(summary.model.architecture).toBe('transformer');
    expect(summary.model.heads).toBe(2);
  });
});

describe('train lm terminal output', () => {
  test('final sample shown once', async () => {
    const textPath = join(workDir, 'moby-terminal.txt');
    writeFileSync(textPath, loadMobyDick().slice(0, 3_000));
    const lines: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    try {
      // Evaluating every step: the last evaluation is at step 2, where the final one is too.
      const { error } = await parse([
        'train', 'lm', '--text', textPath, '--width', '8', '--layers', '1', '--context', '8', '--steps', '2', '--batch-size', '2',
        '--eval-chars', '100', '--sample-length', '5', '--eval-every', '1', '--no-progress',
      ]);
      expect(error).toBeUndefined();
    } finally {
      log.mockRestore();
    }

    expect(lines.filter((line) => line.startsWith('\nstep '))).toHaveLength(2);
    expect(lines).toContain('sample: the one shown for step 2 above');
  });
});
