/**
 * Packs every metagrad package as npm would publish it and installs the tarballs into one empty
 * project outside the repository. Each package must then import there on its own, so that a
 * missing file in `files`, a wrong `main`, or a dependency that is used but not declared fails
 * here rather than for a user. The installed `metagrad` binary must run too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const root = join(__dirname, '..');
const packages = ['kernels', 'autodiff', 'models', 'metalearn', 'data', 'cli'];

/** This process's environment without npm_* variables, so that a child npm does not install into the repository. */
function cleanEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
}

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, env: cleanEnvironment(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A script per package that imports it alone and prints one line. */
const checks: Record<string, { script: string; expected: string }> = {
  kernels: {
    script: "const nd = require('ndarray'); const k = require('@metagrad/kernels'); console.log(Array.from(k.matmul(nd(new Float32Array([1, 2, 3, 4]), [2, 2]), nd(new Float32Array([5, 6]), [2, 1])).data).join(' '));",
    expected: '17 39',
  },
  autodiff: {
    script: "const { tensor, grad } = require('@metagrad/autodiff'); const x = tensor(2, { requiresGrad: true }); const [g] = grad(x.pow(3), x, { createGraph: true }); console.log(g.item(), grad(g, x)[0].item());",
    expected: '12 12',
  },
  models: {
    script: "const { referenceCnn, serializeSafetensors, parseSafetensors } = require('@metagrad/models'); const m = referenceCnn(); console.log(m.numParameters(), Object.keys(parseSafetensors(serializeSafetensors(m.stateDict())).tensors).length);",
    expected: '93322 10',
  },
  metalearn: {
    script: "const { sinusoidTasks } = require('@metagrad/metalearn'); const task = sinusoidTasks({ shots: 5, seed: 0 }).sample(); console.log(task.supportX.shape.join('x'));",
    expected: '5x1',
  },
  data: {
    script: "const { loadMnist } = require('@metagrad/data'); const test = loadMnist({ split: 'test' }); console.log(test.count, test.labels[0]);",
    expected: '10000 7',
  },
  cli: {
    script: "const { buildProgram } = require('@metagrad/cli'); console.log(buildProgram().name());",
    expected: 'metagrad',
  },
};

let workDir = '';

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'metagrad-pack-'));
});

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test('every package installs from its tarball and imports alone', () => {
  for (const name of packages) {
    if (!existsSync(join(root, 'packages', name, 'dist', 'index.js'))) {
      throw new Error(`packages/${name}/dist is missing: run \`npm run build\` (npm test does it) before this test`);
    }
  }

  const tarballs = packages.map((name) => {
    const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', workDir], join(root, 'packages', name))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed.files.map((file) => file.path);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']));
    expect(files.filter((file) => file.endsWith('.tsbuildinfo') || file.startsWith('src/') || file.startsWith('test/'))).toEqual([]);
    return join(workDir, basename(packed.filename));
  });

  const project = join(workDir, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'metagrad-pack-check', version: '1.0.0', private: true }));
  run('npm', ['install', ...tarballs, 'ndarray', '--prefer-offline', '--no-audit', '--no-fund'], project);

  for (const name of packages) {
    const { script, expected } = checks[name];
    expect([name, run(process.execPath, ['-e', script], project).trim()]).toEqual([name, expected]);
  }
  expect(run(process.execPath, [join(project, 'node_modules', '.bin', 'metagrad'), '--version'], project).trim()).toBe('0.1.0');
}, 300_000);
