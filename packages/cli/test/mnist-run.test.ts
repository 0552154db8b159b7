/**
 * Runs the real `metagrad` binary on real MNIST, as a user would. The binary runs the compiled
 * code in dist/, which `npm test` builds before Jest starts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { loadMnist } from '@metagrad/data';
import { loadSafetensors, saveSafetensors } from '@metagrad/models';

const binary = join(__dirname, '..', 'bin', 'metagrad.js');
let workDir: string;

function metagrad(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [binary, ...args], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Writes MNIST test image `index` as a 28x28 gray PNG, optionally inverted (dark digit on white). */
function writeDigitPng(path: string, index: number, invert: boolean): number {
  const test = loadMnist({ split: 'test' });
  const png = new PNG({ width: 28, height: 28 });
  for (let p = 0; p < 784; p++) {
    const value = test.images[index * 784 + p];
    const gray = invert ? 255 - value : value;
    png.data[4 * p] = png.data[4 * p + 1] = png.data[4 * p + 2] = gray;
    png.data[4 * p + 3] = 255;
  }
  writeFileSync(path, PNG.sync.write(png));
  return test.labels[index];
}

beforeAll(() => {
  if (!existsSync(join(__dirname, '..', 'dist', 'main.js'))) {
    throw new Error('packages/cli/dist is missing: run `npm run build` (npm test does it) before these tests');
  }
  workDir = mkdtempSync(join(tmpdir(), 'metagrad-cli-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('metagrad on MNIST', () => {
  const weights = () => join(workDir, 'cnn.safetensors');
  const report = () => join(workDir, 'report');

  test('train cnn on 2,000 images beats 85%', () => {
    const started = Date.now();
    const run = metagrad('train', 'cnn', '--train-limit', '2000', '--test-limit', '1000', '--batch-size', '10', '--seed', '0',
      '--save', weights(), '--report', report(), '--no-progress');
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(`train cnn on 2,000 MNIST images took ${seconds.toFixed(1)} s\n`);

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('mnist: training on 2,000 images, testing on 1,000');
    expect(run.stdout).toMatch(/epoch 1\/1: train loss [\d.]+, test accuracy [\d.]+% \(\d+\/1000\)/);

    const summary = JSON.parse(readFileSync(join(report(), 'summary.json'), 'utf8'));
    expect(summary.epochs).toHaveLength(1);
    expect(summary.epochs[0].testTotal).toBe(1000);
    expect(summary.epochs[0].testAccuracy).toBeGreaterThan(0.85);
    expect(summary.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(1000);
    for (const chart of ['loss.svg', 'accuracy.svg', 'confusion.svg']) {
      expect(readFileSync(join(report(), chart), 'utf8')).toMatch(/^<svg/);
    }
    expect(existsSync(weights())).toBe(true);
    expect(existsSync(join(workDir, 'cnn.optimizer.safetensors'))).toBe(true);
  }, 300_000);

  test('eval cnn reports the same accuracy', () => {
    const run = metagrad('eval', 'cnn', '--weights', weights(), '--test-limit', '1000');
    const summary = JSON.parse(readFileSync(join(report(), 'summary.json'), 'utf8'));
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`mnist test accuracy ${(100 * summary.epochs[0].testAccuracy).toFixed(2)}% (${summary.epochs[0].testCorrect}/1000)`);
    expect(run.stdout).toContain('per-class accuracy: 0: ');
  }, 60_000);

  test('predict cnn classifies a test digit', () => {
    const image = join(workDir, 'digit.png');
    const label = writeDigitPng(image, 0, false);
    const run = metagrad('predict', 'cnn', '--weights', weights(), '--image', image);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`prediction: ${label} (probability`);
  }, 60_000);

  test('predict cnn inverts a light image', () => {
    const image = join(workDir, 'inverted.png');
    writeDigitPng(image, 0, true);
    const run = metagrad('predict', 'cnn', '--weights', weights(), '--image', image);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('after inverting the image');
  }, 60_000);

  test.each([
    ['an image of the wrong size', () => {
      const path = join(workDir, 'big.png');
      const png = new PNG({ width: 32, height: 30 });
      writeFileSync(path, PNG.sync.write(png));
      return ['--weights', weights(), '--image', path];
    }, 'is 32x30 pixels; the model needs 28x28, so resize it first'],
    ['a file that is not a PNG', () => {
      const path = join(workDir, 'text.png');
      writeFileSync(path, 'not an image');
      return ['--weights', weights(), '--image', path];
    }, 'is not a PNG file: it does not start with the PNG signature'],
    ['a missing image', () => ['--weights', weights(), '--image', join(workDir, 'none.png')], 'file not found'],
    ['a folder as the image', () => ['--weights', weights(), '--image', workDir], 'it is a folder; give the path of a PNG file'],
    ['missing weights', () => ['--weights', join(workDir, 'none.safetensors'), '--image', join(workDir, 'digit.png')], "cannot load safetensors '"],
    ['truncated weights', () => {
      const path = join(workDir, 'truncated.safetensors');
      writeFileSync(path, readFileSync(weights()).subarray(0, 100));
      return ['--weights', path, '--image', join(workDir, 'digit.png')];
    }, 'goes beyond the end of the file'],
    ['weights with a NaN', () => {
      // The trained weights with one value of the first convolution made NaN.
      const path = join(workDir, 'nan.safetensors');
      const { tensors, metadata } = loadSafetensors(weights());
      const [name] = Object.keys(tensors);
      tensors[name].data[3] = Number.NaN;
      saveSafetensors(tensors, path, metadata);
      return ['--weights', path, '--image', join(workDir, 'digit.png')];
    }, "has 1 value(s) that are NaN or infinite, the first NaN at index 3; the run that saved it diverged"],
    ['weights missing a tensor', () => {
      const path = join(workDir, 'missing.safetensors');
      const { tensors, metadata } = loadSafetensors(weights());
      delete tensors['0.bias'];
      saveSafetensors(tensors, path, metadata);
      return ['--weights', path, '--image', join(workDir, 'digit.png')];
    }, 'does not fit the reference-cnn model: missing 0.bias; unexpected none. It was saved from another model or changed afterwards'],
  ])('predict cnn rejects %s', (_case, makeArgs, message) => {
    const run = metagrad('predict', 'cnn', ...makeArgs());
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('metagrad: ');
    expect(run.stderr).toContain(message);
  }, 60_000);

  test('weights of another shape are rejected whole', () => {
    const run = metagrad('eval', 'cnn', '--weights', join(workDir, 'cnn.optimizer.safetensors'));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('does not fit the reference-cnn model');
  }, 60_000);

  test('bad flag exits non-zero', () => {
    const run = metagrad('train', 'cnn', '--epochs', 'many');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("option '--epochs <n>' argument 'many' is invalid");
  });

  test('diverging training exits non-zero', () => {
    const run = metagrad('train', 'cnn', '--train-limit', '200', '--test-limit', '100', '--lr', '1e308', '--no-progress');

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('training diverged: the loss is NaN at step 2');
    expect(run.stderr).toContain('lower the learning rate');
  }, 60_000);

  test('unwritable output paths fail before training', () => {
    const file = join(workDir, 'not-a-folder');
    writeFileSync(file, 'x');

    const report = metagrad('train', 'cnn', '--report', file, '--no-progress');
    const save = metagrad('train', 'cnn', '--save', workDir, '--no-progress');

    expect(report.status).toBe(1);
    expect(report.stderr).toContain('is a file, not a folder');
    expect(report.stdout).toBe('');
    expect(save.status).toBe(1);
    expect(save.stderr).toContain('is a folder; give a file name');
  });

  test('empty output paths are rejected', () => {
    const report = metagrad('train', 'cnn', '--report', '', '--no-progress');
    const save = metagrad('train', 'lm', '--text', 'moby-dick', '--save', ' ', '--no-progress');

    expect(report.status).toBe(1);
    expect(report.stderr).toContain('--report was given an empty path; give a folder');
    expect(save.status).toBe(1);
    expect(save.stderr).toContain('--save was given an empty path; give a file name');
  });

  test('output into a closed pipe ends quietly', async () => {
    // The reading end closes before the help text is written, as `metagrad ... | head` does.
    const child = spawn(process.execPath, [binary, 'maml', 'sinusoid', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));

    expect(stderr).not.toContain('EPIPE');
    expect(status).toBe(0);
  });

  test('an invalid thread setting fails before training', () => {
    const run = spawnSync(process.execPath, [binary, 'train', 'cnn', '--no-progress'], { encoding: 'utf8', env: { ...process.env, METAGRAD_THREADS: '0' } });
    const help = spawnSync(process.execPath, [binary, '--help'], { encoding: 'utf8', env: { ...process.env, METAGRAD_THREADS: '0' } });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain("metagrad: METAGRAD_THREADS must be an integer from 1 to 32, got '0'");
    expect(run.stdout).toBe('');
    expect(help.status).toBe(0);
  });

  test('a report folder that cannot be created fails at once', () => {
    // Every mkdir under /proc fails, which made Node's recursive mkdir loop forever.
    const args = ['train', 'lm', '--text', 'moby-dick', '--steps', '1', '--no-progress', '--report', '/proc/metagrad-report/run'];
    const run = spawnSync(process.execPath, [binary, ...args], { encoding: 'utf8', timeout: 20_000 });

    expect(run.status).toBe(1);
    expect(run.stderr).toContain('--report /proc/metagrad-report/run: cannot create the folder /proc/metagrad-report/run (ENOENT)');
  }, 30_000);

  /** Writes both splits of an IDX image set of `labels.length` images of size x size pixels. */
  function writeIdxSet(name: string, size: number, labels: number[]): string {
    const folder = join(workDir, name);
    mkdirSync(folder, { recursive: true });
    const images = Buffer.alloc(16 + labels.length * size * size);
    images.writeUInt32BE(0x803, 0);
    images.writeUInt32BE(labels.length, 4);
    images.writeUInt32BE(size, 8);
    images.writeUInt32BE(size, 12);
    const labelBytes = Buffer.concat([Buffer.from([0, 0, 8, 1]), Buffer.alloc(4), Buffer.from(labels)]);
    labelBytes.writeUInt32BE(labels.length, 4);
    for (const prefix of ['train', 't10k']) {
      writeFileSync(join(folder, `${prefix}-images-idx3-ubyte`), images);
      writeFileSync(join(folder, `${prefix}-labels-idx1-ubyte`), labelBytes);
    }
    return folder;
  }

  test.each([
    ['32x32 images', () => writeIdxSet('large-images', 32, [0, 1, 2, 3]), 'has 32x32 images, but the reference CNN reads 28x28 images'],
    ['a label above 9', () => writeIdxSet('eleven-classes', 28, [0, 1, 2, 10]), 'label 10 at index 3 is out of range; expected 0 to 9'],
  ])('train cnn rejects a folder with %s', (_case, makeFolder, message) => {
    const run = metagrad('train', 'cnn', '--dataset', makeFolder(), '--no-progress');

    expect(run.status).toBe(1);
    expect(run.stderr).toContain(message);
  });
});
