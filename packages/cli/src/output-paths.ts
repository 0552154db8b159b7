/** Checks of the files a command writes after training, made before the training starts. */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Makes sure that the `--save` file and the `--report` folder can be written, creating missing
 * folders, so that a mistyped path fails at once instead of after the whole run. Throws an
 * error naming the option and the path.
 */
export function prepareOutputPaths(paths: { save?: string; report?: string }): void {
  if (paths.save?.trim() === '') throw new Error('--save was given an empty path; give a file name');
  if (paths.report?.trim() === '') throw new Error('--report was given an empty path; give a folder');
  if (paths.save) {
    if (existsSync(paths.save) && statSync(paths.save).isDirectory()) {
      throw new Error(`--save ${paths.save} is a folder; give a file name, such as ${join(paths.save, 'model.safetensors')}`);
    }
    makeFolder('--save', paths.save, dirname(resolve(paths.save)));
  }
  if (paths.report) makeFolder('--report', paths.report, resolve(paths.report));
}

function makeFolder(option: string, path: string, folder: string): void {
  if (existsSync(folder) && !statSync(folder).isDirectory()) {
    throw new Error(`${option} ${path}: ${folder} is a file, not a folder; choose another path`);
  }
  try {
    createFolders(folder);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new Error(`${option} ${path}: cannot create the folder ${folder} (${reason}); choose another path`);
  }
  try {
    accessSync(folder, constants.W_OK);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new Error(`${option} ${path}: cannot write into the folder ${folder} (${reason}); choose another path or change its permissions`);
  }
}

/**
 * Creates `folder` and its missing parents, one level at a time. Node 20's recursive mkdirSync
 * never returns for a path under /proc, where each mkdir fails with ENOENT.
 */
function createFolders(folder: string): void {
  const missing: string[] = [];
  for (let current = folder; !existsSync(current) && dirname(current) !== current; current = dirname(current)) {
    missing.unshift(current);
  }
  for (const path of missing) mkdirSync(path);
}
