/**
 * Which video files a command-line input names (`trajforge label <videos>`, `dream --from-video`):
 * - an existing file: that file, whatever its extension (probing says whether it is a video);
 * - an existing folder holding `meta/info.json`: a LeRobot dataset, returned as such for the
 *   dataset readers (its videos are episodes with metadata, not loose clips);
 * - any other existing folder: its video files at any depth;
 * - otherwise, a glob pattern (`*`, `**`, `?`, `[abc]`, `{a,b}`; matched by tinyglobby against
 *   paths relative to the pattern's fixed leading folders, so `../clips/*.mp4` and absolute
 *   patterns work): the video files it matches.
 * Folder listings and glob matches keep only names with a video extension (VIDEO_EXTENSIONS, any
 * case), skip hidden files and folders (names starting with a dot: caches, .git, editor files),
 * do not descend into symbolic links to folders (no cycles), and are sorted by their path relative
 * to the folder (or the pattern's fixed part) by UTF-16 code units, so the order does not depend
 * on the locale. Paths come back absolute.
 * Nothing to read -> E_USAGE naming the spec.
 */
import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, resolve, sep } from 'node:path';
import { globSync } from 'tinyglobby';
import { TrajforgeError, asIoError } from '../core/errors.js';

/** Extensions of the containers ffmpeg reads that hold video (lower case, without the dot). */
export const VIDEO_EXTENSIONS: readonly string[] = ['mp4', 'm4v', 'mov', 'mkv', 'webm', 'avi', 'mpg', 'mpeg', 'm2v', 'ogv', 'gif', 'flv', 'wmv', 'asf', 'ts', 'mts', 'm2ts', '3gp', '3g2', 'mxf', 'vob', 'y4m'];
const VIDEO_SET = new Set(VIDEO_EXTENSIONS);

export type VideoInputs = { kind: 'videos'; files: string[] } | { kind: 'lerobot'; dir: string };

export function isVideoFileName(name: string): boolean {
  return VIDEO_SET.has(extname(name).slice(1).toLowerCase());
}

const HINT = 'check the path and its permissions';
const GLOB_CHARS = /[*?[\]{}]/;

export function listVideoInputs(spec: string, cwd: string): VideoInputs {
  if (spec === '') throw new TrajforgeError('E_USAGE', 'no video input given (a file, a folder or a glob pattern)');
  const path = resolve(cwd, spec);
  if (existsSync(path)) {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (e) {
      throw asIoError(e, path, HINT);
    }
    if (!isDir) return { kind: 'videos', files: [path] };
    if (existsSync(join(path, 'meta', 'info.json'))) return { kind: 'lerobot', dir: path };
    const files = walk(path, '').sort(byCodeUnits).map((rel) => join(path, rel));
    if (files.length === 0) throw new TrajforgeError('E_USAGE', `${spec}: the folder holds no video files (looked for ${extensionsText()}, hidden files and folders skipped)`);
    return { kind: 'videos', files };
  }
  if (!GLOB_CHARS.test(spec)) throw new TrajforgeError('E_USAGE', `${spec}: no such file or folder`);
  const { base, pattern } = splitPattern(spec, cwd);
  if (!existsSync(base)) throw new TrajforgeError('E_USAGE', `${spec} matches nothing: folder ${base} does not exist`);
  let matched: string[];
  try {
    // tinyglobby either follows every link or drops every link; following them and then dropping
    // the paths that pass through a linked folder gives the folder listing's rule.
    matched = globSync(pattern, { cwd: base, onlyFiles: true, dot: false, followSymbolicLinks: true, expandDirectories: false });
  } catch (e) {
    throw asIoError(e, base, HINT);
  }
  matched = matched.filter(notThroughLinkedFolder(base));
  const files = matched.filter(isVideoFileName).sort(byCodeUnits).map((rel) => join(base, rel));
  if (files.length === 0) {
    const others = matched.length > 0 ? `; it matches ${matched.length} file${matched.length === 1 ? '' : 's'}, none with a video extension (${extensionsText()})` : '';
    throw new TrajforgeError('E_USAGE', `${spec} matches no video files${others}`);
  }
  return { kind: 'videos', files };
}

/** The pattern's leading segments without glob characters (a folder, resolved against cwd) and the rest. */
export function splitPattern(spec: string, cwd: string): { base: string; pattern: string } {
  const segments = spec.split('/');
  let fixed = 0;
  while (fixed < segments.length - 1 && !GLOB_CHARS.test(segments[fixed]!)) fixed++;
  const head = segments.slice(0, fixed).join('/');
  const base = isAbsolute(spec) && head === '' ? sep : resolve(cwd, head);
  return { base, pattern: segments.slice(fixed).join('/') };
}

function walk(root: string, rel: string): string[] {
  const dir = join(root, rel);
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw asIoError(e, dir, HINT);
  }
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const child = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...walk(root, child));
    else if (isVideoFileName(e.name) && (e.isFile() || isFileLink(join(root, child)))) out.push(child);
  }
  return out;
}

/** A test of relative paths under `base`: true when no folder on the way is a symbolic link. */
function notThroughLinkedFolder(base: string): (rel: string) => boolean {
  const linked = new Map<string, boolean>();
  const isLink = (dir: string): boolean => {
    let v = linked.get(dir);
    if (v === undefined) {
      try {
        v = lstatSync(join(base, dir)).isSymbolicLink();
      } catch {
        v = true;
      }
      linked.set(dir, v);
    }
    return v;
  };
  return (rel) => {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) if (isLink(parts.slice(0, i).join('/'))) return false;
    return true;
  };
}

/** A symbolic link to a file counts as the file; a dangling one is skipped. */
function isFileLink(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function extensionsText(): string {
  return VIDEO_EXTENSIONS.map((e) => `.${e}`).join(' ');
}

