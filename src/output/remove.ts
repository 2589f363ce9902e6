/**
 * The one way trajforge deletes a path. Deleting is where users lose data, so every removal goes
 * through `removeOwn`, which refuses anything the tool cannot recognise as its own:
 * - staging and temporary names (`.trajforge*` anywhere on the path, or a `*.tmp`, `*.tmp-<pid>`,
 *   `*.tmp.<suffix>` file or folder), which only trajforge's writers make;
 * - entries of an output folder this process holds (opened by src/output/folder.ts), whose
 *   top-level names the command declared before writing;
 * - entries of a folder whose ownership was just checked (--overwrite), passed as `vouched`.
 */
import { rmdirSync, rmSync } from 'node:fs';
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import { TrajforgeError } from '../core/errors.js';

/** An output folder and the test for its top-level names. */
export interface Owner {
  dir: string;
  owns: (topLevelName: string) => boolean;
}

const held = new Map<string, Owner['owns']>();

/** Names only trajforge's writers make: its staging folders and files, and temporary files of atomic writes. */
export function isStagingName(name: string): boolean {
  return name.startsWith('.trajforge') || /\.tmp($|[-.])/.test(name);
}

/** While held, the declared entries of `dir` may be removed (output.ts registers the folders it opens). */
export function holdForRemoval(owner: Owner): void {
  held.set(resolve(owner.dir), owner.owns);
}

export function releaseForRemoval(dir: string): void {
  held.delete(resolve(dir));
}

/** Deletes `path` (recursively) when it is the tool's; anything else is a bug and throws without deleting. */
export function removeOwn(path: string, vouched?: Owner): void {
  const abs = resolve(path);
  if (!isOwnPath(abs, vouched)) {
    throw new TrajforgeError('E_INTERNAL', `refusing to delete ${abs}: trajforge did not write it (no staging name, not inside an output this process holds)`, { file: abs });
  }
  rmSync(abs, { recursive: true, force: true });
}

/** Removes `dir` only if it is empty (a folder an open created); false when it holds anything or is gone. */
export function removeEmptyFolder(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

function isOwnPath(abs: string, vouched: Owner | undefined): boolean {
  if (isStagingName(basename(abs)) || abs.split(sep).some((part) => part.startsWith('.trajforge'))) return true;
  const owners: [string, Owner['owns']][] = vouched ? [[resolve(vouched.dir), vouched.owns], ...held] : [...held];
  return owners.some(([dir, owns]) => {
    const rel = relative(dir, abs);
    return rel !== '' && rel.split(sep)[0] !== '..' && !isAbsolute(rel) && owns(rel.split(sep)[0]!);
  });
}
