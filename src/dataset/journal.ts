import { appendFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { asIoError } from '../core/errors.js';
import { writeFileAtomic } from '../output/atomic.js';
import { removeOwn } from '../output/remove.js';
import { isPlainObject } from '../core/json.js';

/**
 * Progress journals and resume checks shared by the sinks.
 *
 * A journal holds one JSON object per line, appended only after the files the line describes are
 * durable, so a complete line vouches for finished work. A run killed mid-append leaves a torn
 * last line; reading stops at the first line that is not a complete JSON object, and the caller
 * redoes everything from there. Lines record the byte length of each file they vouch for, which
 * is a cheap and strong check on resume: a truncated or missing file no longer matches.
 */
export interface JournalRead<T> {
  /** The complete lines, in order, up to the first damaged one. */
  entries: T[];
  /** What stopped the reading early (a torn or unreadable line), naming the file; null when every line was complete. */
  damage: string | null;
}

export function readJournal<T extends object>(file: string): JournalRead<T> {
  if (!existsSync(file)) return { entries: [], damage: null };
  const bytes = readFileSync(file);
  const entries: T[] = [];
  let start = 0;
  while (start < bytes.length) {
    const end = bytes.indexOf(0x0a, start);
    const line = `${basename(file)} line ${entries.length + 1}`;
    if (end < 0) return { entries, damage: `${line} torn: ${bytes.length - start} bytes without a newline` };
    let value: unknown;
    try {
      value = JSON.parse(bytes.subarray(start, end).toString('utf8'));
    } catch {
      return { entries, damage: `${line} is not valid JSON` };
    }
    if (!isPlainObject(value)) return { entries, damage: `${line} is not a JSON object` };
    entries.push(value as T);
    start = end + 1;
  }
  return { entries, damage: null };
}

/** Replaces a journal by the given entries (the kept prefix after a repair), atomically. */
export function writeJournal(file: string, entries: readonly object[]): void {
  writeFileAtomic(file, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
}

export function appendJournal(file: string, entry: object): void {
  try {
    appendFileSync(file, `${JSON.stringify(entry)}\n`);
  } catch (e) {
    throw asIoError(e, file);
  }
}

/** Byte length of a file, or -1 when it does not exist. */
export function fileBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return -1;
  }
}

/**
 * Why `file` does not hold the `expected` bytes recorded when it was committed, or null when it
 * does: "top.mp4 missing", "top.mp4 truncated: 1234 of 5678 bytes", "top.mp4 has 6000 bytes,
 * 5678 recorded". `label` is how the notice names the file.
 */
export function sizeProblem(file: string, expected: number, label = basename(file)): string | null {
  const actual = fileBytes(file);
  if (actual < 0) return `${label} missing`;
  if (actual < expected) return `${label} truncated: ${actual} of ${expected} bytes`;
  if (actual > expected) return `${label} has ${actual} bytes, ${expected} recorded`;
  return null;
}

/**
 * The notice a sink gives for work it discards on resume: what, why, and which episodes (dataset
 * positions, 0-based, inclusive) the run writes again.
 */
export function discardNotice(what: string, reason: string, first: number, last: number): string {
  const episodes = last > first ? `episodes ${first}-${last}` : `episode ${first}`;
  return `discarded ${what} (${reason}); redoing ${episodes}`;
}

/** Deletes the entries of `dir` whose names match (files or folders this sink writes there); returns their names. */
export function removeMatching(dir: string, matches: RegExp | ((name: string) => boolean)): string[] {
  if (!existsSync(dir)) return [];
  const test = typeof matches === 'function' ? matches : (name: string) => matches.test(name);
  const removed = readdirSync(dir).filter(test);
  for (const name of removed) removeOwn(join(dir, name));
  return removed;
}

/** Leftovers of `writeFileAtomic` in a process that died before its rename. */
export const ATOMIC_TMP = /\.tmp-\d+$/;
