/** JSON values as parsed: checks shared by every reader of configs, datasets and journals. */

/** A JSON object (not null, not an array): what `{...}` parses to. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
