import type { NoticeKind, StageProgress } from '../pipeline/progress.js';

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
  /**
   * A command that serves until stopped (view, play) ends on Ctrl-C / SIGTERM itself, through
   * untilStopped, and returns 0; every other command is stopped by runProcess's handler.
   */
  handlesSignals?: boolean;
  run(args: string[], io: CliIO): Promise<number>;
}

/**
 * The first SIGINT or SIGTERM (Ctrl-C, a scheduler's stop) by name. Its listeners go with the
 * first signal or with `dispose`, so a second signal while the command finishes stops the process
 * as usual.
 */
export function untilStopped(): { received: Promise<NodeJS.Signals>; dispose(): void } {
  let stop: (signal: NodeJS.Signals) => void = () => {};
  const dispose = () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
  const received = new Promise<NodeJS.Signals>((resolve) => {
    stop = (signal) => {
      dispose();
      resolve(signal);
    };
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return { received, dispose };
}

/** A pipeline notice on stderr: the output folder's as `notice:` lines, the inputs' as `note:` lines. */
export function printNotice(io: CliIO): (line: string, kind?: NoticeKind) => void {
  return (line, kind = 'output') => io.err(`${kind === 'input' ? 'note' : 'notice'}: ${line}\n`);
}

/**
 * Progress of a pipeline's stages on stderr: a bar with the count and an ETA on a terminal,
 * a plain line every 5 s (and at each stage's end) otherwise, so logs of batch jobs show life
 * without flooding. `unit` names what a stage counts (`episodes`, `sources`, ...).
 */
export function printStageProgress(io: CliIO, unit: (stage: string) => string = () => 'done'): (p: StageProgress) => void {
  let lastLine = -Infinity;
  let stageStart = 0;
  let previous = 0;
  let stage = '';
  return (p) => {
    if (p.stage !== stage) {
      if (io.isTTY && stage !== '') io.err('\n');
      stage = p.stage;
      // A stage starts where the last event left off (its first event may already count work).
      stageStart = p.done === 0 ? p.elapsed : previous;
      lastLine = -Infinity;
    }
    previous = p.elapsed;
    const spent = p.elapsed - stageStart;
    const eta = p.done > 0 ? ` ETA ${Math.max(0, (spent * (p.total - p.done)) / p.done).toFixed(0)} s` : '';
    const text = `${p.stage} ${p.done}/${p.total} ${unit(p.stage)}, ${p.elapsed.toFixed(0)} s${p.done < p.total ? eta : ''}`;
    if (io.isTTY) {
      const width = 30;
      const filled = p.total > 0 ? Math.round((width * p.done) / p.total) : width;
      io.err(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}   `);
      if (p.done === p.total) {
        io.err('\n');
        stage = '';
      }
    } else if (p.elapsed - lastLine >= 5 || p.done === p.total) {
      lastLine = p.elapsed;
      io.err(`${text}\n`);
    }
  };
}
