import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { main } from '../../src/cli/main.js';
import type { CliIO } from '../../src/cli/io.js';

export function tmpDir(prefix = 'tf-ds-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function cli(args: string[], cwd = process.cwd()): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t), err: (t) => (err += t), isTTY: false, cwd };
  const code = await main(args, io);
  return { code, out, err };
}

let conn: DuckDBConnection | null = null;
/** DuckDB: the independent parquet reader of the tests. */
export async function duck(): Promise<DuckDBConnection> {
  if (!conn) conn = await (await DuckDBInstance.create(':memory:')).connect();
  return conn;
}

export async function query(sql: string): Promise<Record<string, unknown>[]> {
  const r = await (await duck()).runAndReadAll(sql);
  return r.getRowObjectsJson() as Record<string, unknown>[];
}
