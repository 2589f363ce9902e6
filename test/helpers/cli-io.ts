/** An in-memory CliIO, and a command runner on it, for in-process CLI tests. */
import type { CliIO } from '../../src/cli/io.js';
import { COMMANDS } from '../../src/cli/main.js';

export function capture(cwd = process.cwd()): CliIO & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    isTTY: false,
    cwd,
    out(t: string) {
      io.stdout += t;
    },
    err(t: string) {
      io.stderr += t;
    },
  };
  return io;
}

/** Runs one command (by name) in `cwd`; returns its exit code and what it printed. */
export async function runCommand(name: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = capture(cwd);
  const code = await COMMANDS[name]!.run(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}
