/**
 * kernels, autodiff, models and metalearn must also run in a browser bundle, so their sources
 * may name a Node built-in module (node:fs, path, worker_threads, ...) statically only in files
 * that their package.json "browser" field replaces with false for bundlers.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';

const root = join(__dirname, '..');
const browserPackages = ['kernels', 'autodiff', 'models', 'metalearn'];
const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Module names that a file imports or requires with a string literal. */
function staticImports(source: string): string[] {
  const patterns = [/\bfrom\s+['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g, /^\s*import\s+['"]([^'"]+)['"]/gm];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1]));
}

describe.each(browserPackages)('@metagrad/%s in a browser bundle', (name) => {
  const packageDir = join(root, 'packages', name);
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { browser?: Record<string, string | false> };
  const excluded = new Set(
    Object.entries(manifest.browser ?? {})
      .filter(([, replacement]) => replacement === false)
      .map(([file]) => file.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')),
  );

  test('imports no Node built-in outside browser-excluded files', () => {
    const offenders = sourceFiles(join(packageDir, 'src'))
      .filter((file) => !excluded.has(relative(packageDir, file)))
      .flatMap((file) => staticImports(readFileSync(file, 'utf8')).filter((id) => builtins.has(id)).map((id) => `${relative(root, file)} imports ${id}`));
    expect(offenders).toEqual([]);
  });

  test('depends on no Node-only package', () => {
    const { dependencies = {} } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const allowed = /^(@metagrad\/|ndarray|ndarray-ops|@types\/ndarray)/;
    expect(Object.keys(dependencies).filter((dependency) => !allowed.test(dependency))).toEqual([]);
  });
});
