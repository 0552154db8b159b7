/**
 * The --report folder of `metagrad maml fewshot`, written from a tiny real run on MNIST in-process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { windowMeans } from '../src/charts';
import { parse } from './command-line';

let workDir: string;

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'metagrad-fewshot-report-'));
});

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('maml fewshot --report', () => {
  test('writes charts and summary', async () => {
    const report = join(workDir, 'run');
    const log = jest.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const { error } = await parse([
        'maml', 'fewshot', '--iterations', '3', '--meta-batch', '2', '--eval-tasks', '4', '--eval-steps', '0,2', '--hidden', '8', '--no-progress', '--report', report,
      ]);
      expect(error).toBeUndefined();
    } finally {
      log.mockRestore();
    }

    for (const chart of ['loss.svg', 'accuracy.svg']) {
      expect(readFileSync(join(report, chart), 'utf8')).toMatch(/^<svg/);
    }
    const summary = JSON.parse(readFileSync(join(report, 'summary.json'), 'utf8'));
    expect(summary.config).toMatchObject({ ways: 5, shots: 1, iterations: 3, evalSteps: [0, 2] });
    expect(summary.accuracy.map((row: { steps: number }) => row.steps)).toEqual([0, 2]);
    expect(summary.accuracy[0].count).toBe(4);
    expect(summary.classes.metaTest).toHaveLength(10);
    expect(Number.isFinite(summary.finalMetaLoss)).toBe(true);
  });
});

describe('loss chart points', () => {
  test('short series keeps every step', () => {
    const points = windowMeans([4, 2, 6]);

    expect(points).toEqual([[1, 4], [2, 3], [3, 4]]);
  });

  test('long series ends at its last step', () => {
    const values = Array.from({ length: 2_500 }, (_, i) => i);
    const points = windowMeans(values);

    expect(points.length).toBeLessThanOrEqual(1_001);
    expect(points[points.length - 1]).toEqual([2_500, 2_474.5]);
    // Each point is the mean of the 50 values before it.
    expect(points[100]).toEqual([303, 277.5]);
  });
});
