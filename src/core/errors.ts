/**
 * The one error class of trajforge. Every failure a user can act on carries a stable `code`
 * so scripts can branch on it; only src/cli/main.ts turns it into text and an exit code.
 */
export type ErrorCode =
  | 'E_CONFIG_INVALID'
  | 'E_CONFIG_PARSE'
  | 'E_CONFIG_NOT_FOUND'
  | 'E_ENV_NOT_FOUND'
  | 'E_EXTENDS_CYCLE'
  | 'E_ACTION_INVALID'
  | 'E_STEP_BEFORE_RESET'
  | 'E_ENV_CLOSED'
  | 'E_POLICY_INVALID'
  | 'E_USAGE'
  | 'E_IO'
  | 'E_DATASET_EXISTS'
  | 'E_DATASET_INVALID'
  | 'E_OUTPUT_NOT_OURS'
  | 'E_OUTPUT_LOCKED'
  | 'E_FFMPEG_FAILED'
  | 'E_WORKER_FAILED'
  | 'E_MODEL_SHAPE'
  | 'E_VIDEO_INVALID'
  | 'E_INTERNAL';

/** Exit codes: 2 for anything the user must fix in their input, 1 for runtime failures. */
const USER_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'E_CONFIG_INVALID',
  'E_CONFIG_PARSE',
  'E_CONFIG_NOT_FOUND',
  'E_ENV_NOT_FOUND',
  'E_EXTENDS_CYCLE',
  'E_USAGE',
  'E_DATASET_EXISTS',
  'E_DATASET_INVALID',
  'E_MODEL_SHAPE',
  'E_OUTPUT_NOT_OURS',
  'E_POLICY_INVALID',
  'E_VIDEO_INVALID',
]);

export interface ConfigIssue {
  /** JSON path inside the document, e.g. `bodies[2].mass` ('' for the root). */
  path: string;
  expected: string;
  found: string;
}

export class TrajforgeError extends Error {
  override readonly name = 'TrajforgeError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { file?: string; issues?: ConfigIssue[]; hint?: string } = {},
  ) {
    super(message);
  }

  get exitCode(): number {
    return USER_ERRORS.has(this.code) ? 2 : 1;
  }
}

export function isTrajforgeError(e: unknown): e is TrajforgeError {
  return e instanceof TrajforgeError;
}

/** Operating-system causes of a failed read or write, in words a user can act on. */
const IO_CAUSES: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOENT: 'no such file or folder (removed while writing?)',
  ENOTDIR: 'a path component is not a folder',
  EISDIR: 'a folder stands where a file is written',
  EMFILE: 'too many open files',
  EIO: 'an input/output error of the device',
  EFBIG: 'the file is too large for the file system',
};

/** The same causes as ffmpeg and other C tools print them (strerror text). */
const STRERROR_CAUSES: [RegExp, string][] = [
  [/No space left on device/i, IO_CAUSES.ENOSPC!],
  [/Disk quota exceeded/i, IO_CAUSES.EDQUOT!],
  [/Permission denied/i, IO_CAUSES.EACCES!],
  [/Read-only file system/i, IO_CAUSES.EROFS!],
  [/Input\/output error/i, IO_CAUSES.EIO!],
];

/** The cause named in a tool's error text (e.g. ffmpeg's stderr), or null when it names none. */
export function ioCauseIn(text: string): string | null {
  for (const [pattern, cause] of STRERROR_CAUSES) if (pattern.test(text)) return cause;
  return null;
}

/** System calls that only read (a failed open may be either, and counts as writing: outputs are what fail most). */
const READING_CALLS = new Set(['read', 'scandir', 'stat', 'lstat', 'fstat', 'access', 'readlink', 'realpath']);

/**
 * A failed file-system call as E_IO naming the path (the call's own path when Node reports one),
 * the cause, and that finished work stays; anything that is not a file-system error passes through.
 */
export function asIoError(e: unknown, path: string, hint = 'finished work is kept; fix the cause and rerun with --resume'): unknown {
  if (e instanceof TrajforgeError) return e;
  const err = e as NodeJS.ErrnoException | null;
  const code = err?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return e;
  const where = typeof err!.path === 'string' ? err!.path : path;
  const cause = IO_CAUSES[code] ?? code;
  const verb = READING_CALLS.has(err!.syscall ?? '') ? 'reading' : 'writing';
  return new TrajforgeError('E_IO', `${verb} ${where} failed: ${cause} (${code})`, { file: where, hint });
}
