/**
 * Runs the real `metagrad` binary to train tiny text classifiers with --save, then evaluates and
 * applies the saved files with `eval` and `predict`. The binary runs the compiled code in dist/,
 * which `npm test` builds before Jest starts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors } from '@metagrad/models';

const binary = join(__dirname, '..', 'bin', 'metagrad.js');
let workDir: string;

function metagrad(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [binary, ...args], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/**
 * Returns the per-class table and the confusion matrix: for ham and spam, a header and two rows,
 * a blank line, the matrix's title, its header and two rows.
 */
function classTable(stdout: string): string {
  const lines = stdout.split('\n');
  const start = lines.findIndex((line) => line.startsWith('class '));
  if (start < 0) throw new Error(`no class table in the output:\n${stdout}`);
  return lines.slice(start, start + 8).join('\n');
}

/** Reads "83.33% (125/150)" from the last "test accuracy" line. */
function lastAccuracy(stdout: string): string {
  const matches = [...stdout.matchAll(/test accuracy ([\d.]+% \(\d+\/\d+\))/g)];
  if (matches.length === 0) throw new Error(`no test accuracy in the output:\n${stdout}`);
  return matches[matches.length - 1][1];
}

// 400 e-mails split 300/100, read as at most 48 tokens by one layer of width 24: about a second each.
const tinySpam = ['--limit', '400', '--test-fraction', '0.25', '--seed', '3', '--max-len', '48', '--vocab-size', '1500', '--width', '24', '--layers', '1', '--batch-size', '16', '--no-progress'];
const trainOutput: Record<string, string> = {};

const weights = (architecture: string) => join(workDir, `${architecture}.safetensors`);

beforeAll(() => {
  if (!existsSync(join(__dirname, '..', 'dist', 'main.js'))) {
    throw new Error('packages/cli/dist is missing: run `npm run build` (npm test does it) before these tests');
  }
  workDir = mkdtempSync(join(tmpdir(), 'metagrad-text-classifier-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe.each([
  ['lstm', ['--epochs', '3', '--lr', '1e-2']],
  ['transformer', ['--heads', '2', '--epochs', '3', '--lr', '3e-3', '--dropout', '0']],
])('saved %s classifier', (architecture, extra) => {
  test('train saves weights', () => {
    const run = metagrad('train', architecture, ...tinySpam, ...extra, '--save', weights(architecture));

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`saved weights, tokenizer and sizes to ${weights(architecture)}`);
    // A model that predicts some spam, so that eval matching its numbers shows the weights were loaded.
    const spamRow = /^spam +(\d+) +(\d+)$/m.exec(run.stdout);
    expect(Number(spamRow?.[2])).toBeGreaterThan(0);
    trainOutput[architecture] = run.stdout;
  }, 60_000);

  test('eval matches train accuracy', () => {
    const run = metagrad('eval', architecture, '--weights', weights(architecture));

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const testTexts = /testing on (\d+)/.exec(trainOutput[architecture])?.[1];
    expect(run.stdout).toContain(`spam-assassin: testing on ${testTexts} texts (--test-fraction 0.25 --seed 3 --limit 400)`);
    expect(lastAccuracy(run.stdout)).toBe(lastAccuracy(trainOutput[architecture]));
    expect(classTable(run.stdout)).toBe(classTable(trainOutput[architecture]));
  }, 60_000);

  test('eval takes another split', () => {
    const run = metagrad('eval', architecture, '--weights', weights(architecture), '--seed', '4');

    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^spam-assassin: testing on \d+ texts \(--test-fraction 0\.25 --seed 4 --limit 400\)$/m);
  }, 60_000);

  test('predict prints class probabilities', () => {
    const run = metagrad('predict', architecture, '--weights', weights(architecture), '--text', 'From: lottery@example.com Subject: You have WON $1,000,000!!! Click here now');

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^read \d+ word token\(s\), \d+ of them not in the vocabulary$/m);
    const prediction = /^prediction: (ham|spam) \(probability ([\d.]+)\)$/m.exec(run.stdout);
    expect(prediction).not.toBeNull();
    const probabilities = /^probabilities: (\w+) ([\d.]+), (\w+) ([\d.]+)$/m.exec(run.stdout);
    expect(probabilities).not.toBeNull();
    expect(probabilities![1]).toBe(prediction![1]);
    expect(probabilities![2]).toBe(prediction![2]);
    expect(Number(probabilities![2]) + Number(probabilities![4])).toBeCloseTo(1, 3);
  }, 60_000);

  test('predict cuts a long text', () => {
    const run = metagrad('predict', architecture, '--weights', weights(architecture), '--text', 'free money '.repeat(40));

    expect(run.status).toBe(0);
    expect(run.stdout).toContain("read the first 48 of 80 word tokens (the model's maximum length)");
  }, 60_000);
});

describe('text classifier eval and predict reject', () => {
  const other = { lstm: 'transformer', transformer: 'lstm' } as const;

  test.each(['lstm', 'transformer'] as const)('eval %s of another kind', (architecture) => {
    const run = metagrad('eval', architecture, '--weights', weights(other[architecture]));

    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      `metagrad: weights file ${weights(other[architecture])} contains a model of kind ${other[architecture]}-classifier, not ${architecture}-classifier; use it with metagrad eval ${other[architecture]}`,
    );
  });

  test.each(['lstm', 'transformer'] as const)('predict %s of another kind', (architecture) => {
    const run = metagrad('predict', architecture, '--weights', weights(other[architecture]), '--text', 'hello');

    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`contains a model of kind ${other[architecture]}-classifier, not ${architecture}-classifier; use it with metagrad predict ${other[architecture]}`);
  });

  test('a language model', () => {
    const path = join(workDir, 'lm.safetensors');
    const { tensors, metadata } = loadSafetensors(weights('lstm'));
    saveSafetensors(tensors, path, { ...metadata, model: 'lstm-lm' });

    const run = metagrad('eval', 'lstm', '--weights', path);

    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`metagrad: weights file ${path} contains a model of kind lstm-lm (a language model), not lstm-classifier; use it with metagrad generate`);
  });

  test('a reference CNN', () => {
    const path = join(workDir, 'cnn.safetensors');
    const { tensors } = loadSafetensors(weights('lstm'));
    saveSafetensors(tensors, path, { format: 'metagrad', model: 'reference-cnn' });

    const run = metagrad('predict', 'transformer', '--weights', path, '--text', 'hello');

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('contains a reference-cnn, an image classifier, not a text model; use it with metagrad eval cnn or metagrad predict cnn');
  });

  test.each([
    ['a missing file', () => ['eval', 'lstm', '--weights', join(workDir, 'none.safetensors')], "cannot load safetensors '"],
    ['an empty text', () => ['predict', 'lstm', '--weights', weights('lstm'), '--text', ''], '--text is empty or only whitespace; give the text to classify'],
    ['a whitespace text', () => ['predict', 'transformer', '--weights', weights('transformer'), '--text', ' \n\t '], '--text is empty or only whitespace'],
    ['weights with an infinite value', () => {
      const path = join(workDir, 'nan.safetensors');
      const { tensors, metadata } = loadSafetensors(weights('lstm'));
      const [name] = Object.keys(tensors);
      tensors[name].data[2] = Number.POSITIVE_INFINITY;
      saveSafetensors(tensors, path, metadata);
      return ['eval', 'lstm', '--weights', path];
    }, 'has 1 value(s) that are NaN or infinite, the first Infinity at index 2'],
    ['weights missing a tensor', () => {
      const path = join(workDir, 'missing.safetensors');
      const { tensors, metadata } = loadSafetensors(weights('transformer'));
      const [name] = Object.keys(tensors);
      delete tensors[name];
      saveSafetensors(tensors, path, metadata);
      return ['predict', 'transformer', '--weights', path, '--text', 'hello'];
    }, 'does not fit its model: missing '],
    ['a split leaving no test texts', () => ['eval', 'lstm', '--weights', weights('lstm'), '--limit', '2', '--test-fraction', '0.1'], 'leaves no texts for testing'],
  ])('%s', (_case, makeArgs, message) => {
    const run = metagrad(...makeArgs());

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('metagrad: ');
    expect(run.stderr).toContain(message);
  });

  test('a file without a split warns', () => {
    const path = join(workDir, 'no-split.safetensors');
    const { tensors, metadata } = loadSafetensors(weights('lstm'));
    delete metadata.split;
    saveSafetensors(tensors, path, metadata);

    const run = metagrad('eval', 'lstm', '--weights', path, '--limit', '400');

    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^spam-assassin: testing on \d+ texts \(--test-fraction 0\.2 --seed 3 --limit 400\)$/m);
    const warned = metagrad('eval', 'lstm', '--weights', path);
    expect(warned.status).toBe(0);
    expect(warned.stderr).toContain(`metagrad: weights file ${path} does not record the split it was trained on`);
  }, 60_000);
});
