/**
 * Runs every ```js example in the READMEs as a user would, with plain Node from the repository
 * root (so `require('@metagrad/...')` loads the built packages), and compares what it prints
 * with the ```text block that follows it, when there is one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..');

function readmes(): string[] {
  const packages = readdirSync(join(root, 'packages')).map((name) => join(root, 'packages', name, 'README.md'));
  return [join(root, 'README.md'), join(root, 'README.zh-CN.md'), ...packages].filter((path) => existsSync(path));
}

interface Example {
  file: string;
  line: number;
  code: string;
  expected?: string;
}

/** Finds ```js blocks, each with the ```text block right after it (only blank lines between), if any. */
function examplesIn(file: string): Example[] {
  const text = readFileSync(file, 'utf8');
  const examples: Example[] = [];
  const fence = /```(\w*)\n([\s\S]*?)```/g;
  let match: RegExpExecArray | null;
  let previous: Example | undefined;
  let previousEnd = -1;
  while ((match = fence.exec(text)) !== null) {
    const [, language, body] = match;
    const between = previousEnd >= 0 ? text.slice(previousEnd, match.index) : 'x';
    if (language === 'text' && previous && between.trim() === '') previous.expected = body;
    if (language === 'js') {
      previous = { file, line: text.slice(0, match.index).split('\n').length, code: body };
      examples.push(previous);
    } else {
      previous = undefined;
    }
    previousEnd = fence.lastIndex;
  }
  return examples;
}

const examples = readmes().flatMap(examplesIn);

beforeAll(() => {
  if (!existsSync(join(root, 'packages', 'autodiff', 'dist', 'index.js'))) {
    throw new Error('the packages are not built: run `npm run build` (npm test does it) before this test');
  }
});

test('READMEs contain examples', () => {
  expect(examples.length).toBeGreaterThan(5);
});

test.each(examples.map((e) => [`${relative(root, e.file)}:${e.line}`, e] as const))('%s runs as written', (_name, example) => {
  const run = spawnSync(process.execPath, ['-e', example.code], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  if (example.expected !== undefined) expect(run.stdout.trimEnd()).toBe(example.expected.trimEnd());
}, 150_000);
