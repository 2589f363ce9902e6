/**
 * Output folders: what may be written, replaced or resumed, and by whom.
 *
 * Every command that writes a folder opens it here. The folder is refused when it is the file
 * system root, the home folder, the working directory or one of its parents; `--overwrite` empties
 * it only when this tool wrote it (its marker `.trajforge-output.json`, or the metadata of a
 * dataset or model written before the marker existed) and it holds nothing this tool did not
 * write; one process at a time holds the folder through an exclusive lock file.
 */
import { closeSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { dirname, isAbsolute, join, parse as parsePath, relative, resolve, sep } from 'node:path';
import { TrajforgeError, asIoError } from '../core/errors.js';
import { writeFileAtomic } from './atomic.js';

export const LOCK_FILE = '.trajforge.lock';
/** How often a holder refreshes its lock's time, and when a lock from another host counts as abandoned. */
const HEARTBEAT_MS = 30_000;
const REMOTE_STALE_MS = 10 * 60_000;
export const MARKER_FILE = '.trajforge-output.json';

/** dataset and model folders, and the report folders eval writes (by default inside a model). */
export type OutputKind = 'dataset' | 'model' | 'report';
/** new: the folder must be absent or empty; overwrite: ours is emptied first; resume/update: ours is kept. */
export type OutputMode = 'new' | 'overwrite' | 'resume' | 'update';

export interface OutputOptions {
  kind: OutputKind;
  command: string;
  mode: OutputMode;
  /** The working directory the command runs in (the CLI's). */
  cwd?: string;
  /** Lines for the user (a stale lock taken over). */
  onNotice?: (line: string) => void;
}

interface Marker {
  tool: 'trajforge';
  kind: OutputKind;
  command: string;
  /** Top-level entries when the command finished; absent while it runs or after it died. */
  entries?: string[];
}

interface LockHolder {
  pid: number;
  host: string;
  command: string;
  started: string;
}

/** An output folder held by this process until `close` or `abandon`. */
export class OutputFolder {
  private released = false;
  private readonly onExit = () => this.releaseLock();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    readonly dir: string,
    private readonly lockId: string,
    private readonly marker: Marker,
    private readonly created: boolean,
    private readonly mode: OutputMode,
  ) {
    process.once('exit', this.onExit);
    this.heartbeat = setInterval(() => this.touch(), HEARTBEAT_MS).unref();
  }

  /**
   * Refreshes the lock's time: a holder on another host is judged by it (its pid cannot be
   * checked from here). Long synchronous work (training) calls this between epochs.
   */
  touch(): void {
    try {
      const now = new Date();
      utimesSync(join(this.dir, LOCK_FILE), now, now);
    } catch {
      // A lock that cannot be touched is released or gone; the command's own writes report the disk.
    }
  }

  /**
   * Throws E_IO when the folder vanished or was replaced while this command wrote into it (its
   * lock is gone): writers that recreate folders as they go would otherwise finish a partial
   * dataset in a fresh folder without noticing.
   */
  assertHeld(): void {
    const lock = join(this.dir, LOCK_FILE);
    let held = false;
    try {
      held = readFileSync(lock, 'utf8').includes(this.lockId);
    } catch {
      held = false;
    }
    if (!held) {
      throw new TrajforgeError('E_IO', `writing ${this.dir} failed: the folder was removed or replaced while writing (its lock ${lock} is gone)`, {
        file: this.dir,
        hint: 'what another process removed cannot be recovered here; run the command again',
      });
    }
  }

  /** Records what the finished folder holds (so a later --overwrite knows its own files) and unlocks. */
  close(): void {
    if (this.mode === 'update') return this.releaseLock();
    const entries = readdirSync(this.dir)
      .filter((e) => e !== LOCK_FILE && e !== MARKER_FILE)
      .sort();
    writeFileAtomic(join(this.dir, MARKER_FILE), `${JSON.stringify({ ...this.marker, entries }, null, 2)}\n`);
    this.releaseLock();
  }

  /**
   * Unlocks after a failure. A folder this call created and nothing was written to disappears, so
   * a refused command leaves no trace; anything else stays for --resume.
   */
  abandon(): void {
    this.releaseLock();
    try {
      const left = readdirSync(this.dir).filter((e) => e !== MARKER_FILE);
      if (left.length > 0) return;
      if (this.created) rmSync(this.dir, { recursive: true, force: true });
      else rmSync(join(this.dir, MARKER_FILE), { force: true });
    } catch {
      // The folder may be gone or unreadable already; there is nothing of ours to clean then.
    }
  }

  /**
   * Removes what this command wrote, for commands that cannot resume (convert, merge, dream,
   * train): a folder this call created goes entirely; a folder that was empty or was emptied by
   * --overwrite loses every entry but nothing else, since everything in it is this command's.
   */
  discard(): void {
    try {
      if (this.mode !== 'update') {
        if (this.created) rmSync(this.dir, { recursive: true, force: true });
        else for (const e of readdirSync(this.dir)) if (e !== LOCK_FILE) rmSync(join(this.dir, e), { recursive: true, force: true });
      }
    } catch {
      // A disk that failed the command may fail the clean-up too; the lock release below still runs.
    }
    this.releaseLock();
  }

  private releaseLock(): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.heartbeat);
    process.off('exit', this.onExit);
    const lock = join(this.dir, LOCK_FILE);
    try {
      if (readFileSync(lock, 'utf8').includes(this.lockId)) unlinkSync(lock);
    } catch {
      // Already gone (the folder was removed or the disk vanished): nothing to release.
    }
  }
}

/**
 * Opens DIR for one command: checks the target, creates it, takes the lock, applies the mode
 * (refusing or emptying as the mode says) and leaves the marker. Call before writing anything and
 * after validating every input, so a refused command writes nothing.
 */
export function openOutput(dir: string, opts: OutputOptions): OutputFolder {
  const abs = resolve(opts.cwd ?? process.cwd(), dir);
  refuseProtected(abs, opts.cwd ?? process.cwd());
  if (existsSync(abs) && !statSync(abs).isDirectory()) {
    throw new TrajforgeError('E_USAGE', `${dir} is a file, not a folder; give --out a folder path (new or empty, or one this tool wrote)`, { file: dir });
  }
  let created = false;
  try {
    if (!existsSync(abs)) {
      makeFolders(abs);
      created = true;
    }
  } catch (e) {
    throw asIoError(e, abs, 'nothing was written; fix the cause and run the command again');
  }
  const lockId = `${process.pid}@${hostname()}#${Math.random().toString(36).slice(2)}`;
  acquireLock(abs, lockId, opts);
  const marker: Marker = { tool: 'trajforge', kind: opts.kind, command: opts.command };
  const folder = new OutputFolder(abs, lockId, marker, created, opts.mode);
  try {
    applyMode(abs, dir, opts);
    if (opts.mode !== 'update' && !existsSync(join(abs, MARKER_FILE))) writeFileAtomic(join(abs, MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`);
  } catch (e) {
    folder.abandon();
    throw asIoError(e, abs, 'nothing was written; fix the cause and run the command again');
  }
  return folder;
}

/**
 * What openOutput would refuse, checked without creating or locking anything: for commands that
 * run long before they write (eval), so a refused output is known at once and nothing is lost.
 */
export function preflightOutput(dir: string, opts: OutputOptions): void {
  const abs = resolve(opts.cwd ?? process.cwd(), dir);
  refuseProtected(abs, opts.cwd ?? process.cwd());
  if (!existsSync(abs)) return;
  if (!statSync(abs).isDirectory()) throw new TrajforgeError('E_USAGE', `${dir} is a file, not a folder; give --out a folder path (new or empty, or one this tool wrote)`, { file: dir });
  applyMode(abs, dir, { ...opts, mode: opts.mode === 'overwrite' ? 'resume' : opts.mode });
}

/**
 * mkdir -p one level at a time: a recursive mkdir reports ENOENT for a read-only or forbidden
 * parent, while the level that fails reports the real cause (EROFS, EACCES).
 */
function makeFolders(abs: string): void {
  const missing: string[] = [];
  for (let p = abs; !existsSync(p); p = dirname(p)) missing.unshift(p);
  for (const p of missing) {
    try {
      mkdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** The root, the home folder, the working directory and its parents are never outputs. */
function refuseProtected(abs: string, cwd: string): void {
  const real = realpathOfNearest(abs);
  const protectedDirs = [parsePath(real).root, realpathOfNearest(homedir()), realpathOfNearest(cwd)];
  const isAncestorOfCwd = (p: string) => {
    const rel = relative(p, realpathOfNearest(cwd));
    return rel === '' || (rel.split(sep)[0] !== '..' && !isAbsolute(rel));
  };
  if (protectedDirs.includes(real) || isAncestorOfCwd(real)) {
    throw new TrajforgeError('E_OUTPUT_NOT_OURS', `${abs} is the root, the home folder, the working directory or one of its parents; trajforge never writes into or replaces it`, {
      file: abs,
      hint: 'give --out a new folder, e.g. --out data/run1',
    });
  }
}

/** realpath of the deepest existing ancestor, with the rest of the path appended (links resolved). */
function realpathOfNearest(p: string): string {
  let head = resolve(p);
  const tail: string[] = [];
  while (!existsSync(head)) {
    const up = dirname(head);
    if (up === head) break;
    tail.unshift(head.slice(up.length).replace(/^[\\/]/, ''));
    head = up;
  }
  return join(realpathSync(head), ...tail);
}

function applyMode(abs: string, shown: string, opts: OutputOptions): void {
  // An update changes files of a dataset in place (any tool's); the lock is all it needs.
  if (opts.mode === 'update') return;
  const entries = readdirSync(abs).filter((e) => e !== LOCK_FILE);
  if (entries.every((e) => e === MARKER_FILE)) return;
  const ownership = recogniseOwnFolder(abs);
  if (opts.mode === 'new') {
    const how = ownership.ours ? 'pass --overwrite to replace it' + (opts.kind === 'dataset' ? ' or --resume to continue an interrupted run' : '') : 'choose a new or empty folder';
    throw new TrajforgeError('E_DATASET_EXISTS', `${shown} exists and is not empty; ${how}`, { file: shown });
  }
  if (!ownership.ours || ownership.foreign.length > 0) {
    const why = !ownership.ours
      ? 'it carries no trajforge metadata (no .trajforge-output.json, meta/trajforge.json, model.json or report.json)'
      : `it holds entries trajforge did not write: ${ownership.foreign.slice(0, 5).join(', ')}${ownership.foreign.length > 5 ? ', ...' : ''}`;
    throw new TrajforgeError('E_OUTPUT_NOT_OURS', `${shown} is not a ${opts.kind} this tool wrote (${why}); nothing was touched`, {
      file: shown,
      hint: 'move your files elsewhere or choose another --out',
    });
  }
  if (ownership.kind !== opts.kind) {
    throw new TrajforgeError('E_OUTPUT_NOT_OURS', `${shown} holds a trajforge ${ownership.kind}, not a ${opts.kind}; nothing was touched`, { file: shown, hint: 'choose another --out' });
  }
  if (opts.mode === 'overwrite') for (const e of entries) rmSync(join(abs, e), { recursive: true, force: true });
}

export interface Ownership {
  ours: boolean;
  kind?: OutputKind;
  /** Top-level entries the tool did not write. */
  foreign: string[];
}

/**
 * Whether DIR is a dataset or model this tool wrote, and which of its top-level entries are not
 * its own. The marker lists the entries of a finished run; a run that died before finishing
 * lists none, and then only the entries a trajforge writer makes (staging folders and the
 * names of the formats' top-level files) count as its own.
 */
export function recogniseOwnFolder(dir: string): Ownership {
  const entries = readdirSync(dir).filter((e) => e !== LOCK_FILE && e !== MARKER_FILE);
  const marker = readMarker(dir);
  if (marker) {
    const known = new Set(marker.entries ?? []);
    // A folder another trajforge command wrote inside this one (an eval report in a model) is ours too.
    const nestedOutput = (e: string) => readMarker(join(dir, e)) !== null;
    const foreign = marker.entries ? entries.filter((e) => !known.has(e) && !isStagingEntry(e) && !nestedOutput(e)) : [];
    return { ours: true, kind: marker.kind, foreign };
  }
  // Folders written before the marker existed: recognised by their own metadata.
  if (existsSync(join(dir, 'model.json')) && isTrajforgeModelCard(join(dir, 'model.json'))) {
    return { ours: true, kind: 'model', foreign: entries.filter((e) => !/^(model\.json|.*\.onnx|.*\.png|report\.(json|md))$/.test(e) && !isStagingEntry(e)) };
  }
  if (existsSync(join(dir, 'meta', 'trajforge.json')) || existsSync(join(dir, '.trajforge', 'run.json'))) {
    return { ours: true, kind: 'dataset', foreign: entries.filter((e) => !['meta', 'data', 'videos', 'images', '.trajforge'].includes(e)) };
  }
  if (existsSync(join(dir, 'report.json')) && existsSync(join(dir, 'report.md'))) {
    return { ours: true, kind: 'report', foreign: entries.filter((e) => !/\.(png|json|md)$/.test(e) && !isStagingEntry(e)) };
  }
  return { ours: false, foreign: entries };
}

function readMarker(dir: string): Marker | null {
  const file = join(dir, MARKER_FILE);
  if (!existsSync(file)) return null;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Partial<Marker>;
    if (m.tool !== 'trajforge' || !['dataset', 'model', 'report'].includes(m.kind as string)) return null;
    return m as Marker;
  } catch {
    return null;
  }
}

function isTrajforgeModelCard(file: string): boolean {
  try {
    const card = JSON.parse(readFileSync(file, 'utf8')) as { parts?: unknown; env?: unknown };
    return typeof card === 'object' && card !== null && typeof card.parts === 'object' && card.env !== undefined;
  } catch {
    return false;
  }
}

/** Temporary and staging names every trajforge writer uses (`.trajforge*`, `*.tmp`, `*.tmp-<pid>`). */
function isStagingEntry(name: string): boolean {
  return name.startsWith('.trajforge') || /\.tmp(-\d+)?$/.test(name) || /^\..*\.tmp-\d+$/.test(name);
}

/**
 * Creates DIR/.trajforge.lock with O_EXCL, so exactly one process wins. A lock whose process is
 * gone (same host: no such pid; another host: not refreshed for REMOTE_STALE_MS) is taken over
 * with a notice; a live holder refuses the second writer.
 */
function acquireLock(dir: string, lockId: string, opts: OutputOptions): void {
  const lock = join(dir, LOCK_FILE);
  const holder: LockHolder & { id: string } = { pid: process.pid, host: hostname(), command: opts.command, started: new Date().toISOString(), id: lockId };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      try {
        writeSync(fd, `${JSON.stringify(holder)}\n`);
      } finally {
        closeSync(fd);
      }
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw asIoError(e, lock, 'nothing was written; fix the cause and run the command again');
    }
    const current = readLockHolder(lock);
    if (current && !holderIsGone(current, lock)) {
      throw new TrajforgeError('E_OUTPUT_LOCKED', `${dir} is being written by process ${current.pid} on ${current.host} (${current.command}, since ${current.started}); nothing was written`, {
        file: lock,
        hint:
          current.host === hostname()
            ? 'wait for it to finish, or stop it and rerun with --resume'
            : `a lock from another host counts as abandoned ${REMOTE_STALE_MS / 60_000} min after its holder last refreshed it; if that process is gone, delete ${lock} and rerun`,
      });
    }
    takeOverStaleLock(lock, current, opts);
  }
  throw new TrajforgeError('E_OUTPUT_LOCKED', `${dir}: another process keeps taking the lock ${lock}; nothing was written`, { file: lock });
}

function readLockHolder(lock: string): (LockHolder & { id?: string }) | null {
  try {
    const h = JSON.parse(readFileSync(lock, 'utf8')) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string') return { command: '?', started: '?', ...h } as LockHolder;
  } catch {
    // Unreadable or half-written: a writer died between creating and filling it (checked below).
  }
  return null;
}

function holderIsGone(h: LockHolder, lock: string): boolean {
  if (h.host !== hostname()) {
    try {
      return Date.now() - statSync(lock).mtimeMs > REMOTE_STALE_MS;
    } catch {
      return false;
    }
  }
  if (h.pid === process.pid) return false;
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Moves the stale lock aside by rename (atomic: of two processes taking over, one moves it) and
 * checks that what it moved is the stale lock it judged; a fresh lock moved by mistake goes back.
 */
function takeOverStaleLock(lock: string, judged: (LockHolder & { id?: string }) | null, opts: OutputOptions): void {
  if (judged === null) {
    // An empty or garbled lock: its writer died before filling it, unless it is filling it now.
    try {
      if (Date.now() - lstatSync(lock).mtimeMs < 2000) return;
    } catch {
      return;
    }
  }
  const aside = `${lock}.stale-${process.pid}`;
  try {
    renameSync(lock, aside);
  } catch {
    return; // someone else moved it first; try again
  }
  const moved = readLockHolder(aside);
  if (judged && moved && moved.pid === judged.pid && moved.started === judged.started) {
    rmSync(aside, { force: true });
    opts.onNotice?.(`took over the lock of process ${judged.pid} on ${judged.host} (${judged.command}), which is gone`);
    return;
  }
  if (!judged && !moved) {
    rmSync(aside, { force: true });
    opts.onNotice?.(`took over an unreadable lock left by a process that died (${lock})`);
    return;
  }
  try {
    linkSync(aside, lock); // put back a live lock moved by mistake (fails if a new one exists)
  } catch {
    // A new lock exists already; the next attempt reads it.
  }
  rmSync(aside, { force: true });
}
