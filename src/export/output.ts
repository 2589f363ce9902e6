/**
 * Output folders: what may be written, replaced or resumed, and by whom.
 *
 * Every command that writes a folder opens it here. The folder is refused when it is the file
 * system root, the home folder, the working directory or one of its parents; `--overwrite` empties
 * it only when this tool wrote it (its marker `.trajforge-output.json`, or the metadata of a
 * dataset or model written before the marker existed) and it holds nothing this tool did not
 * write; one process at a time holds the folder through an exclusive lock file.
 */
import { closeSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
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
/** new: the folder must be absent or empty; overwrite: ours is emptied first; resume: ours is kept. */
export type OutputMode = 'new' | 'overwrite' | 'resume';

export interface OutputOptions {
  kind: OutputKind;
  command: string;
  mode: OutputMode;
  /** The working directory the command runs in (the CLI's). */
  cwd?: string;
  /** Lines for the user (a stale lock taken over). */
  onNotice?: (line: string) => void;
  /** What the command reads: the output may neither contain one (--overwrite would empty it) nor lie inside one. */
  inputs?: string[];
  /** Inputs the output may lie inside but not contain (eval's report inside its model). */
  hosts?: string[];
}

interface Marker {
  tool: 'trajforge';
  kind: OutputKind;
  command: string;
  /**
   * Top-level entries this tool wrote, recorded as they appear (at most every RECORD_MS while a
   * command writes, and when it finishes); absent only when nothing was recorded yet.
   */
  entries?: string[];
}

/** Past this many top-level entries (a frames dataset: one folder per episode) the marker is rewritten at most every RECORD_MS. */
const EAGER_RECORD_LIMIT = 1000;
const RECORD_MS = 2_000;
/** Lock ids this process issued: a lock carrying our pid but another id is a dead predecessor's (a restarted container reuses pids). */
const issuedLockIds = new Set<string>();

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
  private recordedAt = 0;
  private recordedCount = 0;
  private recorded = '';

  constructor(
    readonly dir: string,
    private readonly lockId: string,
    private readonly marker: Marker,
    /** The first folder of the path this call created (absent: the folder existed). */
    private readonly createdFrom: string | null,
    private readonly mode: OutputMode,
    /** Entries that were there and not the tool's when the folder was opened: never recorded as its own. */
    private readonly foreign: ReadonlySet<string>,
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
   * dataset in a fresh folder without noticing. Called after each write, it also records the
   * entries the write made, so a run killed right after still knows its own files.
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
    if (this.recordedCount < EAGER_RECORD_LIMIT || Date.now() - this.recordedAt >= RECORD_MS) this.recordEntries();
  }

  /**
   * Writes the top-level entries the command has made into the marker, so that after a crash
   * --overwrite still tells the tool's entries from a user's.
   */
  recordEntries(): void {
    this.recordedAt = Date.now();
    const entries = readdirSync(this.dir)
      .filter((e) => e !== LOCK_FILE && e !== MARKER_FILE && !this.foreign.has(e))
      .sort();
    this.recordedCount = entries.length;
    const text = `${JSON.stringify({ ...this.marker, entries }, null, 2)}\n`;
    if (text === this.recorded) return;
    writeFileAtomic(join(this.dir, MARKER_FILE), text);
    this.recorded = text;
  }

  /** Records what the finished folder holds (so a later --overwrite knows its own files) and unlocks. */
  close(): void {
    this.recordEntries();
    this.releaseLock();
  }

  /**
   * Unlocks after a failure. A folder this call created and nothing was written to disappears, so
   * a refused command leaves no trace; anything else stays for --resume.
   */
  abandon(): void {
    try {
      if (readdirSync(this.dir).some((e) => e !== MARKER_FILE && e !== LOCK_FILE)) {
        this.recordEntries();
        return this.releaseLock();
      }
      this.releaseLock();
      rmSync(join(this.dir, MARKER_FILE), { force: true });
      this.removeCreatedFolders();
    } catch {
      // The folder may be gone or unreadable already; there is nothing of ours to clean then.
      this.releaseLock();
    }
  }

  /** Undoes a refused open: the lock (when taken) goes, and the folders the open created while they are empty. */
  giveUp(): void {
    this.releaseLock();
    this.removeCreatedFolders();
  }

  /** The folders this call created, innermost first, while empty (a sibling output may share a new parent). */
  private removeCreatedFolders(): void {
    if (!this.createdFrom) return;
    for (let d = this.dir; ; d = dirname(d)) {
      try {
        rmdirSync(d);
      } catch {
        return;
      }
      if (d === this.createdFrom) return;
    }
  }

  /**
   * Removes what this command wrote, for commands that cannot resume (convert, merge, dream,
   * train): a folder this call created goes entirely; a folder that was empty or was emptied by
   * --overwrite loses every entry but nothing else, since everything in it is this command's.
   */
  discard(): void {
    try {
      for (const e of readdirSync(this.dir)) if (e !== LOCK_FILE && !this.foreign.has(e)) rmSync(join(this.dir, e), { recursive: true, force: true });
    } catch {
      // A disk that failed the command may fail the clean-up too; the lock release below still runs.
    }
    this.releaseLock();
    this.removeCreatedFolders();
  }

  private releaseLock(): void {
    if (this.released) return;
    this.released = true;
    issuedLockIds.delete(this.lockId);
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
  refuseOverlap(abs, opts);
  if (existsSync(abs) && !statSync(abs).isDirectory()) {
    throw new TrajforgeError('E_USAGE', `${dir} is a file, not a folder; give --out a folder path (new or empty, or one this tool wrote)`, { file: dir });
  }
  let createdFrom: string | null = null;
  try {
    if (!existsSync(abs)) createdFrom = makeFolders(abs);
  } catch (e) {
    throw asIoError(e, abs, 'nothing was written; fix the cause and run the command again');
  }
  const lockId = `${process.pid}@${hostname()}#${Math.random().toString(36).slice(2)}`;
  issuedLockIds.add(lockId);
  const foreign = new Set<string>();
  const folder = new OutputFolder(abs, lockId, { tool: 'trajforge', kind: opts.kind, command: opts.command }, createdFrom, opts.mode, foreign);
  try {
    acquireLock(abs, lockId, opts);
    for (const e of applyMode(abs, dir, opts)) foreign.add(e);
    folder.recordEntries();
  } catch (e) {
    folder.giveUp();
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
  refuseOverlap(abs, opts);
  if (!existsSync(abs)) return;
  if (!statSync(abs).isDirectory()) throw new TrajforgeError('E_USAGE', `${dir} is a file, not a folder; give --out a folder path (new or empty, or one this tool wrote)`, { file: dir });
  applyMode(abs, dir, opts, { dryRun: true });
}

/**
 * mkdir -p one level at a time: a recursive mkdir reports ENOENT for a read-only or forbidden
 * parent, while the level that fails reports the real cause (EROFS, EACCES). Returns the first
 * folder it created.
 */
function makeFolders(abs: string): string {
  const missing: string[] = [];
  for (let p = abs; !existsSync(p); p = dirname(p)) missing.unshift(p);
  for (const p of missing) {
    try {
      mkdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return missing[0] ?? abs;
}

/** The root, the home folder, the working directory and its parents are never outputs. */
function refuseProtected(abs: string, cwd: string): void {
  const real = realpathOfNearest(abs);
  const protectedDirs = [parsePath(real).root, realpathOfNearest(homedir()), realpathOfNearest(cwd)];
  if (protectedDirs.includes(real) || within(cwd, real)) {
    throw new TrajforgeError('E_OUTPUT_NOT_OURS', `${abs} is the root, the home folder, the working directory or one of its parents; trajforge never writes into or replaces it`, {
      file: abs,
      hint: 'give --out a new folder, e.g. --out data/run1',
    });
  }
}

/** True when `inner` is `outer` or lies inside it (links resolved). */
function within(inner: string, outer: string): boolean {
  const rel = relative(realpathOfNearest(outer), realpathOfNearest(inner));
  return rel === '' || (rel.split(sep)[0] !== '..' && !isAbsolute(rel));
}

/** An output that holds an input could empty it; one inside an input would write into it. */
function refuseOverlap(abs: string, opts: OutputOptions): void {
  const cwd = opts.cwd ?? process.cwd();
  for (const input of [...(opts.inputs ?? []), ...(opts.hosts ?? [])].map((p) => resolve(cwd, p))) {
    if (within(input, abs)) {
      throw new TrajforgeError('E_USAGE', `--out ${abs} holds the input ${input}; choose an output folder outside what the command reads`, { file: abs });
    }
  }
  for (const input of (opts.inputs ?? []).map((p) => resolve(cwd, p))) {
    if (within(abs, input)) {
      throw new TrajforgeError('E_USAGE', `--out ${abs} lies inside the input ${input}; choose an output folder outside what the command reads`, { file: abs });
    }
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

/**
 * Refuses or empties the folder as the mode says; returns the entries that are not the tool's
 * (only a resume keeps a folder that has some: its sinks touch only their own names).
 */
function applyMode(abs: string, shown: string, opts: OutputOptions, { dryRun = false } = {}): string[] {
  const entries = readdirSync(abs).filter((e) => e !== LOCK_FILE);
  if (entries.every((e) => e === MARKER_FILE)) return [];
  const ownership = recogniseOwnFolder(abs);
  if (opts.mode === 'new') {
    const how = ownership.ours ? 'pass --overwrite to replace it' + (opts.kind === 'dataset' ? ' or --resume to continue an interrupted run' : '') : 'choose a new or empty folder';
    throw new TrajforgeError('E_DATASET_EXISTS', `${shown} exists and is not empty; ${how}`, { file: shown });
  }
  const foreignMatters = opts.mode === 'overwrite' && ownership.foreign.length > 0;
  if (!ownership.ours || foreignMatters) {
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
  if (opts.mode === 'overwrite' && !dryRun) for (const e of entries) rmSync(join(abs, e), { recursive: true, force: true });
  return opts.mode === 'overwrite' ? [] : ownership.foreign;
}

export interface Ownership {
  ours: boolean;
  kind?: OutputKind;
  /** Top-level entries the tool did not write. */
  foreign: string[];
}

/** The files of an eval report (charts are PNGs named by the report). */
const REPORT_ENTRY = /^(report\.json|report\.md|[a-z0-9_]+\.png)$/;

/**
 * Whether DIR is a dataset, model or report this tool wrote, and which of its top-level entries
 * are not its own. The marker lists the entries the tool made (recorded while it writes); an
 * entry it does not list is the tool's only when it is a staging name or another trajforge
 * output nested inside (an eval report in a model).
 */
export function recogniseOwnFolder(dir: string): Ownership {
  const entries = readdirSync(dir).filter((e) => e !== LOCK_FILE && e !== MARKER_FILE);
  const marker = readMarker(dir);
  if (marker) {
    const known = new Set(marker.entries ?? []);
    const nestedOutput = (e: string) => readMarker(join(dir, e)) !== null;
    return { ours: true, kind: marker.kind, foreign: entries.filter((e) => !known.has(e) && !isStagingEntry(e) && !nestedOutput(e)) };
  }
  // Folders written before the marker existed: recognised by their own metadata and file names.
  if (isTrajforgeJson(join(dir, 'model.json'), ['format', 'id', 'parts', 'dataset'])) {
    return { ours: true, kind: 'model', foreign: entries.filter((e) => !/^(model\.json|[a-z]+\.onnx|training_log\.jsonl)$/.test(e) && !(e === 'eval' && isLegacyReport(join(dir, e)))) };
  }
  if (isTrajforgeJson(join(dir, 'meta', 'trajforge.json'), ['config_hash']) || existsSync(join(dir, '.trajforge', 'run.json'))) {
    return { ours: true, kind: 'dataset', foreign: entries.filter((e) => !['meta', 'data', 'videos', 'images', '.trajforge'].includes(e)) };
  }
  if (isLegacyReport(dir)) return { ours: true, kind: 'report', foreign: entries.filter((e) => !REPORT_ENTRY.test(e)) };
  return { ours: false, foreign: entries };
}

function isLegacyReport(dir: string): boolean {
  return existsSync(join(dir, 'report.md')) && isTrajforgeJson(join(dir, 'report.json'), ['model', 'dataset', 'horizon', 'open_loop']);
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

/** A JSON object file with all the given top-level keys (how a file trajforge wrote is told from a look-alike). */
function isTrajforgeJson(file: string, keys: string[]): boolean {
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof json === 'object' && json !== null && !Array.isArray(json) && keys.every((k) => k in json);
  } catch {
    return false;
  }
}

/** Staging names of trajforge's writers: `.trajforge*` folders and atomic writes' `<file>.tmp-<pid>`. */
function isStagingEntry(name: string): boolean {
  return name.startsWith('.trajforge') || /\.tmp-\d+$/.test(name);
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
  // Our own pid: live only when this process issued that lock (a restarted container reuses pids).
  if (h.pid === process.pid) return !issuedLockIds.has((h as LockHolder & { id?: string }).id ?? '');
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
