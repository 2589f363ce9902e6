import type { NoticeKind } from '../pipeline/progress.js';

/** Where commands write: injected so tests call commands without a process. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal (progress bars) . */
  isTTY: boolean;
  cwd: string;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[], io: CliIO): Promise<number>;
}

/** A pipeline notice on stderr: the output folder's as `notice:` lines, the inputs' as `note:` lines. */
export function printNotice(io: CliIO): (line: string, kind?: NoticeKind) => void {
  return (line, kind = 'output') => io.err(`${kind === 'input' ? 'note' : 'notice'}: ${line}\n`);
}
