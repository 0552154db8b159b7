/**
 * Runs the real `metagrad` binary on real text, as a user would: small runs that must still
 * learn. The binary runs the compiled code in dist/, which `npm test` builds before Jest starts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMobyDick } from '@metagrad/data';

const binary = join(__dirname, '..', 'bin', 'metagrad.js');
let workDir: string;

function metagrad(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [binary, ...args], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Reads the number before '%' in "final test accuracy 83.33%". */
function finalAccuracy(stdout: string): number {
  const match = /final test accuracy ([\d.]+)%/.exec(stdout);
  if (!match) throw new Error(`no final accuracy in the output:\n${stdout}`);
  return Number(match[1]) / 100;
}

beforeAll(() => {
  if (!existsSync(join(__dirname, '..', 'dist', 'main.js'))) {
    throw new Error('packages/cli/dist is missing: run `npm run build` (npm test does it) before these tests');
  }
  workDir = mkdtempSync(join(tmpdir(), 'metagrad-text-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

// 600 e-mails split 450/150; 69% of them are ham, so always answering ham scores 69%.
const smallSpam = ['--limit', '600', '--test-fraction', '0.25', '--max-len', '64', '--vocab-size', '2000', '--width', '32', '--layers', '1', '--batch-size', '16', '--no-progress'];
const majorityShare = 0.69;

describe('metagrad on real text', () => {
  test('train lstm learns spam', () => {
    const report = join(workDir, 'lstm-report');
    const run = metagrad('train', 'lstm', ...smallSpam, '--epochs', '4', '--lr', '5e-3', '--report', report);

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(finalAccuracy(run.stdout)).toBeGreaterThan(majorityShare + 0.07);
    expect(run.stdout).toContain('precision');
    expect(run.stdout).toContain('confusion matrix');
    expect(readFileSync(join(report, 'confusion.svg'), 'utf8')).toContain('<svg');
    const summary = JSON.parse(readFileSync(join(report, 'summary.json'), 'utf8'));
    expect(summary.epochs).toHaveLength(4);
    expect(summary.model).not.toHaveProperty('heads');
  }, 180_000);

  test('train transformer learns spam', () => {
    const report = join(workDir, 'transformer-report');
    const run = metagrad('train', 'transformer', ...smallSpam, '--heads', '2', '--epochs', '5', '--lr', '3e-3', '--dropout', '0', '--report', report);

    expect(run.status).toBe(0);
    expect(finalAccuracy(run.stdout)).toBeGreaterThan(majorityShare + 0.07);
    const { model } = JSON.parse(readFileSync(join(report, 'summary.json'), 'utf8'));
    expect(model.normFirst).toBe(true);
    expect(model.heads).toBe(2);
  }, 180_000);

  test('train lm and generate', () => {
    const textPath = join(workDir, 'moby.txt');
    const weights = join(workDir, 'lm.safetensors');
    const report = join(workDir, 'lm-report');
    writeFileSync(textPath, loadMobyDick().slice(20_000, 50_000));
    const vocabularyBits = Math.log2(new Set(readFileSync(textPath, 'utf8')).size + 2);

    const run = metagrad(
      'train', 'lm', '--text', textPath, '--arch', 'lstm', '--width', '64', '--context', '48', '--steps', '120', '--batch-size', '16', '--lr', '1e-2',
      '--eval-every', '60', '--eval-chars', '2000', '--sample-length', '40', '--no-progress', '--save', weights, '--report', report,
    );
    expect(run.status).toBe(0);
    const bits = Number(/([\d.]+) bits per character over/.exec(run.stdout)?.[1]);
    expect(bits).toBeLessThan(vocabularyBits - 2);
    const samples = readFileSync(join(report, 'samples.txt'), 'utf8');
    expect(samples).toContain('--- step 60,');
    expect(samples).toContain(`--- step 120, ${bits.toFixed(3)} bits per character on`);
    expect(samples.match(/^--- step 120,/gm)).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(report, 'summary.json'), 'utf8')).model).not.toHaveProperty('heads');

    const generate = (seed: string) => metagrad('generate', '--weights', weights, '--prompt', 'The whale', '--max-tokens', '40', '--seed', seed);
    const first = generate('1');
    expect(first.status).toBe(0);
    expect(first.stdout.startsWith('The whale')).toBe(true);
    expect(Array.from(first.stdout.trim())).toHaveLength(49);
    expect(generate('1').stdout).toBe(first.stdout);
    expect(generate('2').stdout).not.toBe(first.stdout);
  }, 180_000);

  test('generate rejects a classifier', () => {
    const weights = join(workDir, 'classifier.safetensors');
    const train = metagrad('train', 'lstm', '--limit', '60', '--epochs', '1', '--max-len', '8', '--width', '8', '--layers', '1', '--no-progress', '--save', weights);
    expect(train.status).toBe(0);

    const run = metagrad('generate', '--weights', weights, '--prompt', 'hi');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('contains a lstm-classifier, not a language model');
  }, 60_000);

  test('train lstm rejects an empty test split', () => {
    const run = metagrad('train', 'lstm', '--limit', '1', '--no-progress');

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('--test-fraction 0.2 with --limit 1 leaves no texts for testing');
  }, 60_000);
});
