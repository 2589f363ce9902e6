import { TrajforgeError, type ErrorCode } from './errors.js';

/** Edit distance, for "did you mean" suggestions on unknown names. */
export function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min((prev[j] as number) + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}

/** The known names closest to `name` (case-insensitive edit distance, best first). */
export function closest(name: string, known: readonly string[], max = 3): string[] {
  const n = name.toLowerCase();
  return known
    .map((k) => ({ k, d: Math.min(levenshtein(n, k.toLowerCase()), k.toLowerCase().includes(n) || n.includes(k.toLowerCase()) ? 1 : Infinity) }))
    .sort((x, y) => x.d - y.d || x.k.localeCompare(y.k))
    .slice(0, max)
    .map((x) => x.k);
}

/** A typed name -> entry table whose unknown-key error lists the closest names. */
export function lookup<T>(table: Readonly<Record<string, T>>, name: string, what: string, code: ErrorCode = 'E_USAGE'): T {
  const entry = Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
  if (entry === undefined) {
    const keys = Object.keys(table);
    throw new TrajforgeError(code, `unknown ${what} '${name}'; did you mean ${closest(name, keys).map((k) => `'${k}'`).join(', ')}? (known: ${keys.join(', ')})`);
  }
  return entry;
}
