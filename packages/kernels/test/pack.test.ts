/**
 * Packs @metagrad/kernels as npm would publish it and installs the tarball into an empty project
 * outside the repository. The README's examples then run there, so that a missing file in
 * `files`, a wrong `main` or an undeclared dependency fails here rather than for a user.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repositoryRoot = path.resolve(__dirname, '../../..');
const packageDirectory = path.resolve(__dirname, '..');

/**
 * Returns this process's environment without npm_* variables, for child npm processes. Under
 * `npm test`, npm exports its configuration to the script, npm_config_local_prefix=<this
 * repository> among it, and a child `npm install` would then install into the repository.
 */
function cleanEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.toLowerCase().startsWith('npm_')) env[name] = value;
  }
  return env;
}

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, env: cleanEnvironment(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The README's examples plus a float32 product of a transposed view, printed as JSON. */
const exampleScript = `
const ndarray = require('ndarray');
const { matmul, conv2d, logSoftmax, KernelError } = require('@metagrad/kernels');

const a = ndarray(new Float32Array([1, 2, 3, 4]), [2, 2]);
const b = ndarray(new Float32Array([5, 6]), [2, 1]);
const image = ndarray(new Float32Array(9).fill(1), [1, 1, 3, 3]);
const filter = ndarray(new Float32Array(4).fill(1), [1, 1, 2, 2]);
let message = '';
try {
  matmul(ndarray(new Float32Array(6), [2, 3]), ndarray(new Float32Array(20), [4, 5]));
} catch (error) {
  message = (error instanceof KernelError ? 'KernelError: ' : 'other: ') + error.message;
}
console.log(JSON.stringify({
  product: Array.from(matmul(a, b).data),
  transposedProduct: Array.from(matmul(a.transpose(1, 0), b).data),
  convolution: Array.from(conv2d(image, filter, { padding: 'valid' }).data),
  logSoftmax: Array.from(logSoftmax(ndarray(new Float64Array([1000, 0]), [2])).data),
  message,
}));
`;

describe('packed package', () => {
  let workDirectory = '';

  beforeAll(() => {
    workDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'metagrad-kernels-pack-'));
  });

  afterAll(() => {
    if (workDirectory) fs.rmSync(workDirectory, { recursive: true, force: true });
  });

  test('installs from its tarball and runs the README examples', () => {
    run(process.execPath, [path.join(repositoryRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'packages/kernels'], repositoryRoot);

    const packOutput = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', workDirectory], packageDirectory)) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    const [packed] = packOutput;
    const files = packed.files.map((file) => file.path);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts']));
    expect(files.filter((file) => !file.startsWith('dist/') && file !== 'package.json' && file !== 'README.md')).toEqual([]);
    expect(files.filter((file) => file.endsWith('.tsbuildinfo'))).toEqual([]);

    const project = path.join(workDirectory, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'kernels-pack-check', version: '1.0.0', private: true }));
    const tarball = path.join(workDirectory, path.basename(packed.filename));
    run('npm', ['install', tarball, 'ndarray', '--prefer-offline', '--no-audit', '--no-fund'], project);
    expect(fs.existsSync(path.join(project, 'node_modules', '@metagrad', 'kernels', 'dist', 'index.d.ts'))).toBe(true);

    const result = JSON.parse(run(process.execPath, ['-e', exampleScript], project)) as Record<string, unknown>;
    expect(result.product).toEqual([17, 39]);
    expect(result.transposedProduct).toEqual([23, 34]);
    expect(result.convolution).toEqual([4, 4, 4, 4]);
    expect(result.logSoftmax).toEqual([0, -1000]);
    expect(result.message).toMatch(/^KernelError: matmul: inner dimensions differ: a is \[2, 3\] and b is \[4, 5\] \(3 != 4\)/);
  }, 240_000);
});
