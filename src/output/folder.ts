/**
 * Output folders: what may be written, replaced or resumed, and by whom.
 *
 * Every command that writes a folder opens it here. The folder is refused when it is the file
 * system root, the home folder, the working directory or one of its parents, or when it holds or
 * lies inside one of the command's inputs. Opening leaves a marker, `.trajforge-output.json`,
 * that names the top-level entries the command writes (names and patterns declared before
 * anything is written, so a crash cannot leave an entry unclaimed, and a user's file saved into
 * the folder never matches). `--overwrite` empties a folder only when it carries such a marker
 * (or the metadata of a dataset, model or report written before the marker existed) and holds
 * nothing else. One process at a time holds the folder through an exclusive lock file.
 */
import { closeSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, statSync, utimesSync, writeSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { dirname, isAbsolute, join, parse as parsePath, relative, resolve, sep } from 'node:path';
import { TrajforgeError, asIoError } from '../core/errors.js';
import { PART_NAMES } from '../model/export.js';
import { REPORT_FILES } from '../report/world-model-report.js';
import { writeFileAtomic } from './atomic.js';
import { holdForRemoval, releaseForRemoval, removeEmptyFolder, removeOwn } from './remove.js';
import { isPlainObject } from '../core/json.js';

export const LOCK_FILE = '.trajforge.lock';
export const MARKER_FILE = '.trajforge-output.json';
/**
 * Where --overwrite sets the previous output aside (renamed, not copied) until the new one is
 * complete: a run that fails puts it back, one that completes removes it, and one killed leaves
 * it here for the next run of the tool to remove.
 */
export const PREVIOUS_OUTPUT = '.trajforge-previous';
/** How often a holder refreshes its lock's time, and when a lock from another host counts as abandoned. */
const HEARTBEAT_MS = 30_000;
const REMOTE_STALE_MS = 10 * 60_000;

/** dataset and model folders, and the report folders eval writes (by default inside a model). */
export type OutputKind = 'dataset' | 'model' | 'report';
/** new: the folder must be absent or empty; overwrite: the tool's own folder is emptied first; resume: it is kept. */
export type OutputMode = 'new' | 'overwrite' | 'resume';

export interface OutputOptions {
  kind: OutputKind;
  command: string;
  mode: OutputMode;
  /**
   * The entries the command writes, as regular expressions over whole names (e.g. `meta`,
   * `episode_\d+`). A pattern without `/` claims a top-level entry whole; patterns `top/...`
   * instead name every file the command writes under the folder `top` (relative paths, `/`
   * between parts), so `--overwrite` can tell a user's file saved inside it. Staging names
   * (`.trajforge*`, `<file>.tmp-<pid>`) are always the tool's.
   */
  entries: string[];
  /** The flags the command has for an existing folder, for the advice in its errors. */
  accepts?: ('overwrite' | 'resume')[];
  /**
   * Whether an interrupted run is continued later (generate --resume): its output then stays when
   * the process ends early; otherwise what the command wrote is removed at exit (Ctrl-C, SIGTERM).
   */
  resumable?: boolean;
  /** The working directory the command runs in (the CLI's). */
  cwd?: string;
  /** Lines for the user (a stale lock taken over). */
  onNotice?: (line: string) => void;
  /** What the command reads: the output may neither hold one (--overwrite would empty it) nor lie inside one. */
  inputs?: string[];
  /** Inputs the output may lie inside but not hold (eval's report inside its model). */
  hosts?: string[];
}

interface Marker {
  tool: 'trajforge';
  kind: OutputKind;
  command: string;
  /** The top-level entries the command writes (regular expressions over whole names). */
  entries: string[];
}

interface LockHolder {
  pid: number;
  host: string;
  command: string;
  started: string;
  id?: string;
}

/** Lock ids this process issued: a lock carrying our pid but another id is a dead predecessor's (a restarted container reuses pids). */
const issuedLockIds = new Set<string>();

/** An output folder held by this process until `close`, `abandon` or `discard`. */
export class OutputFolder {
  private released = false;
  private readonly onExit = () => (this.resumable ? this.releaseLock() : this.discard());
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    readonly dir: string,
    private readonly lockId: string,
    private readonly owns: (name: string) => boolean,
    /** The first folder of the path the open created (null: the folder existed). */
    private readonly createdFrom: string | null,
    private readonly resumable: boolean,
  ) {
    process.once('exit', this.onExit);
    holdForRemoval({ dir, owns });
    this.heartbeat = setInterval(() => this.touch(), HEARTBEAT_MS).unref();
  }

  /**
   * Refreshes the lock's time: a holder on another host is judged by it (its pid cannot be
   * checked from there). Long synchronous work (training) calls this between epochs.
   */
  touch(): void {
    try {
      const now = new Date();
      utimesSync(join(this.dir, LOCK_FILE), now, now);
    } catch {
      // A lock that cannot be touched is released or gone; assertHeld reports a vanished folder.
    }
  }

  /**
   * Throws E_IO when the folder vanished or was replaced while this command wrote into it (its
   * lock is gone): writers that recreate folders as they go would otherwise finish a partial
   * output in a fresh folder without noticing.
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

  /** Checks the folder is still this command's, then unlocks: the output is complete, and what --overwrite set aside goes. */
  close(): void {
    this.assertHeld();
    try {
      removeOwn(join(this.dir, PREVIOUS_OUTPUT));
    } catch (e) {
      throw asIoError(e, join(this.dir, PREVIOUS_OUTPUT));
    }
    this.releaseLock();
  }

  /**
   * The error to report for a failure while writing: the folder's loss when it was removed or
   * replaced (later writes then fail on paths that are gone, which is not the cause), else `e` as
   * an I/O error. Called before the folder is released.
   */
  failure(e: unknown): unknown {
    try {
      this.assertHeld();
    } catch (lost) {
      return lost;
    }
    return asIoError(e, this.dir);
  }

  /**
   * Unlocks after a failure, keeping what was written for --resume. A folder that holds nothing
   * but the marker loses it, and disappears when the open created it, so a refused command
   * leaves no trace.
   */
  abandon(): void {
    this.releaseLock();
    this.removeIfNothingWritten();
  }

  /**
   * Removes what this command wrote, for commands that cannot resume (convert, merge, dream,
   * train, encode, eval): the entries it declares and its staging, never anything else, then the
   * marker and the folders the open created when nothing else is left.
   */
  discard(): void {
    try {
      for (const e of readdirSync(this.dir)) if (e !== LOCK_FILE && e !== MARKER_FILE && e !== PREVIOUS_OUTPUT && this.owns(e)) removeOwn(join(this.dir, e));
      restorePrevious(this.dir);
    } catch {
      // A disk that failed the command may fail the clean-up too; the lock release below still runs.
    }
    this.releaseLock();
    this.removeIfNothingWritten();
  }

  private removeIfNothingWritten(): void {
    try {
      if (readdirSync(this.dir).some((e) => e !== MARKER_FILE)) return;
      removeOwn(join(this.dir, MARKER_FILE));
      this.removeCreatedFolders();
    } catch {
      // The folder may be gone or unreadable already; there is nothing of ours to clean then.
    }
  }

  /** Undoes a refused open: the lock (when taken) goes, and the folders the open created while they are empty. */
  giveUp(): void {
    this.releaseLock();
    this.removeCreatedFolders();
  }

  /** The folders the open created, innermost first, while empty (a sibling output may share a new parent). */
  private removeCreatedFolders(): void {
    if (!this.createdFrom) return;
    for (let d = this.dir; removeEmptyFolder(d) && d !== this.createdFrom; d = dirname(d));
  }

  private releaseLock(): void {
    if (this.released) return;
    this.released = true;
    issuedLockIds.delete(this.lockId);
    releaseForRemoval(this.dir);
    clearInterval(this.heartbeat);
    process.off('exit', this.onExit);
    const lock = join(this.dir, LOCK_FILE);
    try {
      if (readFileSync(lock, 'utf8').includes(this.lockId)) removeOwn(lock);
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
  const abs = checkTarget(dir, opts);
  let createdFrom: string | null = null;
  try {
    if (!existsSync(abs)) createdFrom = makeFolders(abs);
  } catch (e) {
    throw nothingWritten(asIoError(e, abs));
  }
  const lockId = `${process.pid}@${hostname()}#${Math.random().toString(36).slice(2)}`;
  issuedLockIds.add(lockId);
  const marker: Marker = { tool: 'trajforge', kind: opts.kind, command: opts.command, entries: opts.entries };
  const folder = new OutputFolder(abs, lockId, ownedBy(marker.entries), createdFrom, opts.resumable === true);
  try {
    acquireLock(abs, lockId, opts);
    applyMode(abs, dir, opts);
    const existing = opts.mode === 'resume' ? readMarker(abs) : null;
    // The same top-level entries: a run started by a release that declared no nested files resumes.
    const tops = (entries: string[]) => JSON.stringify([...new Set(compileEntries(entries).map((d) => d.top.source))]);
    if (existing && (existing.kind !== marker.kind || tops(existing.entries) !== tops(marker.entries))) {
      // Another format's (or command's) run: its marker stays as it is, so its files stay its own.
      throw new TrajforgeError('E_DATASET_EXISTS', `${dir} was started as another kind of output (its marker declares ${existing.entries.join(', ')}; this run writes ${marker.entries.join(', ')}); resume with the command that started it, or --overwrite`, {
        file: join(abs, MARKER_FILE),
      });
    }
    if (!existing) writeFileAtomic(join(abs, MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`);
  } catch (e) {
    folder.giveUp();
    throw nothingWritten(asIoError(e, abs));
  }
  return folder;
}

/**
 * What openOutput would refuse, checked without creating, locking or emptying anything: for
 * commands that read for a while before they write (train, eval, encode), so a refused output is
 * known at once and an old output survives a refused run.
 */
export function preflightOutput(dir: string, opts: OutputOptions): void {
  const abs = checkTarget(dir, opts);
  if (existsSync(abs)) applyMode(abs, dir, opts, { dryRun: true });
}

/** An error of a refused open carries the advice that fits it: nothing was written. */
function nothingWritten(e: unknown): unknown {
  if (!(e instanceof TrajforgeError) || e.code !== 'E_IO') return e;
  return new TrajforgeError(e.code, e.message, { ...e.details, hint: 'nothing was written; fix the cause and run the command again' });
}

/** The absolute output path, refused when protected, overlapping an input, a file or a dangling link. */
function checkTarget(dir: string, opts: OutputOptions): string {
  const cwd = opts.cwd ?? process.cwd();
  const abs = resolve(cwd, dir);
  refuseProtected(abs, cwd);
  refuseOverlap(abs, opts);
  let link: ReturnType<typeof lstatSync> | null = null;
  try {
    link = lstatSync(abs);
  } catch {
    link = null;
  }
  if (link?.isSymbolicLink() && !existsSync(abs)) {
    throw new TrajforgeError('E_USAGE', `${dir} is a symbolic link to a folder that does not exist; create its target or give --out another path`, { file: dir });
  }
  if (existsSync(abs) && !statSync(abs).isDirectory()) {
    throw new TrajforgeError('E_USAGE', `${dir} is a file, not a folder; give --out a folder path (new or empty, or one this tool wrote)`, { file: dir });
  }
  const up = nearestExisting(abs);
  if (up !== abs && !statSync(up).isDirectory()) throw new TrajforgeError('E_USAGE', `${dir} lies under ${up}, which is a file, not a folder; give --out a path in a folder`, { file: dir });
  return abs;
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
  const full = resolve(p);
  const head = nearestExisting(full);
  return join(realpathSync(head), relative(head, full));
}

/** The deepest existing path among p and its parents (the root at the last). */
function nearestExisting(p: string): string {
  let head = resolve(p);
  while (!existsSync(head) && dirname(head) !== head) head = dirname(head);
  return head;
}

/** Refuses, or empties (--overwrite), the folder as the mode says. */
function applyMode(abs: string, shown: string, opts: OutputOptions, { dryRun = false } = {}): void {
  const entries = readdirSync(abs).filter((e) => e !== LOCK_FILE);
  if (entries.every((e) => e === MARKER_FILE)) return;
  const ownership = recogniseOwnFolder(abs);
  const accepts = opts.accepts ?? [];
  if (opts.mode === 'new') {
    const flags = accepts.map((f) => (f === 'overwrite' ? 'pass --overwrite to replace it' : 'pass --resume to continue an interrupted run'));
    const how = ownership.ours && flags.length > 0 ? flags.join(', or ') : 'choose a new or empty folder';
    throw new TrajforgeError('E_DATASET_EXISTS', `${shown} exists and is not empty; ${how}`, { file: shown });
  }
  // Files a user saved inside the tool's folders (a notebook in videos/) count as theirs too.
  if (opts.mode === 'overwrite' && ownership.ours && ownership.patterns) ownership.foreign.push(...foreignFiles(abs, entries, ownership.patterns));
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
  if (opts.mode !== 'overwrite') return;
  // An output nested inside (an eval report in a model) may be in use by its own command.
  for (const e of entries) {
    const nestedLock = join(abs, e, LOCK_FILE);
    const holder = existsSync(nestedLock) ? readLockHolder(nestedLock) : null;
    if (holder && holder !== 'unreadable' && !holderIsGone(holder, nestedLock)) {
      throw new TrajforgeError('E_OUTPUT_LOCKED', `${join(abs, e)} inside ${shown} is being written by process ${holder.pid} on ${holder.host} (${holder.command}); nothing was touched`, { file: nestedLock });
    }
  }
  if (dryRun) return;
  // Set aside, not deleted, until the new output is complete (see PREVIOUS_OUTPUT); what an
  // earlier killed run set aside is older still and goes. The marker moves last: a move cut short
  // still leaves the folder recognisably the tool's.
  const previous = join(abs, PREVIOUS_OUTPUT);
  removeOwn(previous);
  mkdirSync(previous);
  const moving = [...entries.filter((x) => x !== MARKER_FILE && x !== PREVIOUS_OUTPUT), ...(entries.includes(MARKER_FILE) ? [MARKER_FILE] : [])];
  try {
    for (const e of moving) renameSync(join(abs, e), join(previous, e));
  } catch (e) {
    restorePrevious(abs);
    throw e;
  }
}

/** Puts what --overwrite set aside back in place (a failed run's own entries removed first by the caller). */
function restorePrevious(dir: string): void {
  const previous = join(dir, PREVIOUS_OUTPUT);
  if (!existsSync(previous)) return;
  for (const e of readdirSync(previous)) {
    if (e === MARKER_FILE) removeOwn(join(dir, MARKER_FILE));
    renameSync(join(previous, e), join(dir, e));
  }
  removeEmptyFolder(previous);
}

export interface Ownership {
  ours: boolean;
  kind?: OutputKind;
  /** Top-level entries the tool did not write. */
  foreign: string[];
  /** The entry patterns the folder was written with (its marker's, or the known ones of an older output). */
  patterns?: string[];
}

/** Declared entry patterns compiled: each one's top-level name, and the whole path of a `top/...` pattern (see OutputOptions.entries). */
function compileEntries(patterns: readonly string[]): { top: RegExp; path: RegExp | null }[] {
  return patterns.map((p) => {
    const slash = p.indexOf('/');
    return { top: new RegExp(`^(?:${slash < 0 ? p : p.slice(0, slash)})$`), path: slash < 0 ? null : new RegExp(`^(?:${p})$`) };
  });
}

/** Whole-name matcher of top-level entries over the declared entry patterns, staging names always included. */
function ownedBy(patterns: string[]): (name: string) => boolean {
  const declared = compileEntries(patterns);
  return (name) => isStagingEntry(name) || declared.some((d) => d.top.test(name));
}

/** A writer's copy in progress of one of its files: `X.tmp` (or `X.tmp.rebuild`) is the tool's when X is. */
const IN_PROGRESS = /\.tmp(\.\w+)?$/;

/**
 * Files under the top-level folders that patterns `top/...` describe which none of them names
 * (paths relative to dir). Links are not followed: a link is a file here.
 */
function foreignFiles(dir: string, entries: readonly string[], patterns: readonly string[]): string[] {
  const declared = compileEntries(patterns);
  const out: string[] = [];
  for (const entry of entries) {
    const nested = declared.filter((d) => d.path !== null && d.top.test(entry)).map((d) => d.path!);
    if (nested.length === 0 || isStagingEntry(entry) || !lstatSync(join(dir, entry)).isDirectory()) continue;
    const walk = (rel: string) => {
      for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
        const path = `${rel}/${d.name}`;
        if (isStagingEntry(d.name)) continue;
        if (d.isDirectory()) walk(path);
        else if (!nested.some((r) => r.test(path) || r.test(path.replace(IN_PROGRESS, '')))) out.push(path);
      }
    };
    walk(entry);
  }
  return out;
}

/** The top-level entries of an eval report: the report, its Markdown, its charts. */
export const REPORT_ENTRIES = REPORT_FILES.map(escapeRegExp);
/** The top-level entries of a model folder: the card, one ONNX file per part, the training log (its eval report carries a marker of its own). */
export const MODEL_ENTRIES = ['model.json', ...PART_NAMES.map((p) => `${p}.onnx`), 'training_log.jsonl'].map(escapeRegExp);
/** The files of a LeRobot v3 dataset trajforge writes (see OutputOptions.entries). */
export const LEROBOT_ENTRIES = [
  'meta/(info|stats|trajforge)\\.json',
  'meta/tasks\\.parquet',
  'meta/trajforge_episodes\\.jsonl',
  'meta/episodes/chunk-\\d+/file-\\d+\\.parquet',
  'meta/trajforge_episodes/chunk-\\d+/file-\\d+\\.npz',
  'data/chunk-\\d+/file-\\d+\\.parquet',
  'videos/[^/]+/chunk-\\d+/file-\\d+\\.mp4',
  'README\\.md',
];

/**
 * Whether DIR is a dataset, model or report this tool wrote, and which of its top-level entries
 * are not its own: those its marker does not declare and no staging name covers. Folders written
 * before the marker existed are recognised by their metadata and their known file names.
 */
export function recogniseOwnFolder(dir: string): Ownership {
  const entries = readdirSync(dir).filter((e) => e !== LOCK_FILE && e !== MARKER_FILE);
  const marker = readMarker(dir);
  if (marker) {
    const owns = ownedBy(marker.entries);
    return { ours: true, kind: marker.kind, foreign: entries.filter((e) => !owns(e) && !isOwnReport(join(dir, e))), patterns: marker.entries };
  }
  const legacy = (kind: OutputKind, patterns: string[]): Ownership => ({ ours: true, kind, foreign: entries.filter((e) => !ownedBy(patterns)(e)), patterns });
  if (isTrajforgeJson(join(dir, 'model.json'), ['format', 'id', 'parts', 'dataset'])) {
    return { ours: true, kind: 'model', foreign: entries.filter((e) => !ownedBy(MODEL_ENTRIES)(e) && !isOwnReport(join(dir, e))) };
  }
  if (isTrajforgeJson(join(dir, 'meta', 'trajforge.json'), ['config_hash']) || existsSync(join(dir, '.trajforge', 'run.json'))) return legacy('dataset', LEROBOT_ENTRIES);
  if (existsSync(join(dir, 'report.md')) && isTrajforgeJson(join(dir, 'report.json'), ['model', 'dataset', 'horizon', 'open_loop'])) return legacy('report', REPORT_ENTRIES);
  return { ours: false, foreign: entries };
}

/** A report folder of the tool's inside another output (eval's default MODEL/eval) holding only its own files. */
function isOwnReport(dir: string): boolean {
  try {
    if (!statSync(dir).isDirectory()) return false;
    const o = recogniseOwnFolder(dir);
    return o.ours && o.kind === 'report' && o.foreign.length === 0;
  } catch {
    return false;
  }
}

function readMarker(dir: string): Marker | null {
  const file = join(dir, MARKER_FILE);
  if (!existsSync(file)) return null;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Partial<Marker>;
    if (m.tool !== 'trajforge' || !['dataset', 'model', 'report'].includes(m.kind as string)) return null;
    if (!Array.isArray(m.entries) || !m.entries.every((p) => typeof p === 'string' && isValidPattern(p))) return null;
    return m as Marker;
  } catch {
    return null;
  }
}

function isValidPattern(p: string): boolean {
  try {
    new RegExp(p);
    return true;
  } catch {
    return false;
  }
}

/** A JSON object file with all the given top-level keys (how a file trajforge wrote is told from a look-alike). */
function isTrajforgeJson(file: string, keys: string[]): boolean {
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return isPlainObject(json) && keys.every((k) => k in json);
  } catch {
    return false;
  }
}

/** Staging names of trajforge's writers: `.trajforge*` folders and files, atomic writes' `<file>.tmp-<pid>`. */
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
  const holder: LockHolder = { pid: process.pid, host: hostname(), command: opts.command, started: new Date().toISOString(), id: lockId };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number | null = null;
    try {
      fd = openSync(lock, 'wx');
      writeSync(fd, `${JSON.stringify(holder)}\n`);
      closeSync(fd);
      return;
    } catch (e) {
      if (fd !== null) {
        // Created but not filled (a full disk): an empty lock would block the next run for a while.
        closeSync(fd);
        removeOwn(lock);
      }
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw asIoError(e, lock);
    }
    if (!lstatSync(lock).isFile()) {
      throw new TrajforgeError('E_OUTPUT_NOT_OURS', `${lock} is not a lock file trajforge wrote; remove it and run the command again`, { file: lock });
    }
    const current = readLockHolder(lock);
    if (current === 'unreadable') {
      throw new TrajforgeError('E_OUTPUT_LOCKED', `${dir} is locked by ${lock}, which this user cannot read; nothing was written`, { file: lock, hint: 'ask its owner, or remove it if no process writes there' });
    }
    if (current && !holderIsGone(current, lock)) {
      const own = current.host === hostname();
      throw new TrajforgeError('E_OUTPUT_LOCKED', `${dir} is being written by process ${current.pid} on ${current.host} (${current.command}, since ${current.started}); nothing was written`, {
        file: lock,
        hint: own
          ? `wait for it to finish${opts.accepts?.includes('resume') ? ', or stop it and rerun with --resume' : ''}`
          : `a lock from another host counts as abandoned ${REMOTE_STALE_MS / 60_000} min after its holder last refreshed it; if that process is gone, delete ${lock} and rerun`,
      });
    }
    takeOverStaleLock(lock, current, opts);
  }
  throw new TrajforgeError('E_OUTPUT_LOCKED', `${dir}: another process keeps taking the lock ${lock}; nothing was written`, { file: lock });
}

/** The holder a lock names; null for an empty or garbled one; 'unreadable' when permissions forbid reading it. */
function readLockHolder(lock: string): LockHolder | null | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(lock, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EACCES' ? 'unreadable' : null;
  }
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string') return { command: '?', started: '?', ...h } as LockHolder;
  } catch {
    // Half-written: a writer died between creating and filling it (judged by its age).
  }
  return null;
}

function holderIsGone(h: LockHolder | 'unreadable', lock: string): boolean {
  if (h === 'unreadable') return false;
  if (h.host !== hostname()) {
    try {
      return Date.now() - statSync(lock).mtimeMs > REMOTE_STALE_MS;
    } catch {
      return false;
    }
  }
  // Our own pid: live only when this process issued that lock (a restarted container reuses pids).
  if (h.pid === process.pid) return !issuedLockIds.has(h.id ?? '');
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  return isZombie(h.pid);
}

/**
 * A killed process stays in the process table as a zombie until its parent reaps it (a shell a
 * moment later; in a container whose init reaps nothing, never): it still answers signal 0 but
 * holds nothing. Linux shows the state in /proc; elsewhere a zombie counts as alive.
 */
function isZombie(pid: number): boolean {
  try {
    // The state follows the command name's closing parenthesis: "pid (name) S ...".
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] === 'Z';
  } catch {
    return false;
  }
}

/**
 * Moves the stale lock aside by rename (atomic: of two processes taking over, one moves it) and
 * checks that what it moved is the stale lock it judged; a fresh lock moved by mistake goes back.
 */
function takeOverStaleLock(lock: string, judged: LockHolder | null, opts: OutputOptions): void {
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
  const same = judged && moved && moved !== 'unreadable' && moved.pid === judged.pid && moved.started === judged.started;
  if (same || (!judged && !moved)) {
    removeOwn(aside);
    opts.onNotice?.(judged ? `took over the lock of process ${judged.pid} on ${judged.host} (${judged.command}), which is gone` : `took over an unreadable lock left by a process that died (${lock})`);
    return;
  }
  try {
    linkSync(aside, lock); // put back a live lock moved by mistake (fails if a new one exists)
  } catch {
    // A new lock exists already; the next attempt reads it.
  }
  removeOwn(aside);
}

/** A literal name as a pattern for OutputOptions.entries. */
export function escapeRegExp(name: string): string {
  return name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A single-file output (a picture, a video, a schema): a folder there is refused, and an existing
 * file is replaced only when the user says so (--overwrite), since nothing marks a file as the
 * tool's. Checked before the command does its work.
 */
export function checkFileOutput(file: string, opts: { overwrite: boolean; cwd?: string }): string {
  const abs = resolve(opts.cwd ?? process.cwd(), file);
  if (!existsSync(abs)) return abs;
  if (statSync(abs).isDirectory()) throw new TrajforgeError('E_USAGE', `${file} is a folder; --out names the file to write`, { file });
  if (!opts.overwrite) throw new TrajforgeError('E_DATASET_EXISTS', `${file} exists; pass --overwrite to replace it, or choose another --out`, { file });
  return abs;
}

/**
 * Runs a command that cannot resume: opens DIR, lets `write` fill it, and closes it; when `write`
 * fails, removes what it wrote and reports a file-system failure as E_IO naming the path.
 */
export async function writeOutput<T>(dir: string, opts: OutputOptions, write: (folder: OutputFolder) => Promise<T>): Promise<T> {
  const folder = openOutput(dir, opts);
  try {
    const result = await write(folder);
    folder.close();
    return result;
  } catch (e) {
    const cause = folder.failure(e);
    folder.discard();
    throw cause;
  }
}
