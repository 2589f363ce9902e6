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
  | 'E_FFMPEG_FAILED'
  | 'E_WORKER_FAILED'
  | 'E_MODEL_SHAPE'
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
  'E_POLICY_INVALID',
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
