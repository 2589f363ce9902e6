import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { asIoError } from '../core/errors.js';
import { removeOwn } from './remove.js';

/**
 * Write to a temporary sibling then rename, so readers never see a half-written file. A failed
 * write removes its temporary file and names the file it was writing.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    if (typeof data === 'string' || data instanceof Uint8Array) writeFileSync(tmp, data);
    else writeChunks(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    removeOwn(tmp);
    throw asIoError(e, file);
  }
}

/** Chunks written one after another (no joined copy of a large file in memory). */
function writeChunks(file: string, chunks: readonly Uint8Array[]): void {
  const fd = openSync(file, 'w');
  try {
    for (const c of chunks) writeFully(fd, c);
  } finally {
    closeSync(fd);
  }
}

/** All of `bytes` at the descriptor's position (writeSync may write less than asked). */
export function writeFully(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.byteLength; ) at += writeSync(fd, bytes, at, bytes.byteLength - at);
}
