import { createRequire } from 'node:module';
import { isTrajforgeError } from '../core/errors.js';
import { BACKEND_ENV, setOnnxBackend } from '../model/onnx/runtime.js';
import { closest } from '../core/registry.js';
import { bcCommand } from './bc.js';
import { checkCommand } from './check.js';
import { convertCommand } from './convert.js';
import { dreamCommand } from './dream.js';
import { encodeCommand } from './encode.js';
import { envsCommand } from './envs.js';
import { generateCommand } from './generate.js';
import type { CliIO, Command } from './io.js';
import { inspectCommand } from './inspect.js';
import { infoCommand } from './info.js';
import { labelCommand } from './label.js';
import { mergeCommand } from './merge.js';
import { predictCommand } from './predict.js';
import { renderCommand } from './render.js';
import { replayCommand } from './replay.js';
import { validateCommand } from './validate.js';
import { viewCommand } from './view.js';
import { schemaCommand } from './schema.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { playCommand } from './play.js';

/** The command table: the CLI's help and its unknown-command error both come from it. */
export const COMMANDS: Record<string, Command> = {
  envs: envsCommand,
  check: checkCommand,
  schema: schemaCommand,
  generate: generateCommand,
  render: renderCommand,
  inspect: inspectCommand,
  info: infoCommand,
  validate: validateCommand,
  merge: mergeCommand,
  replay: replayCommand,
  convert: convertCommand,
  train: trainCommand,
  predict: predictCommand,
  dream: dreamCommand,
  eval: evalCommand,
  encode: encodeCommand,
  label: labelCommand,
  bc: bcCommand,
  view: viewCommand,
  play: playCommand,
};

/** The installed package's version (package.json two folders up, from src/cli and from dist/cli alike). */
function packageVersion(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return `trajforge: training data for world models and agents\n\nusage: trajforge <command> [options]    (trajforge --version)\n\n${Object.values(COMMANDS)
    .map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`)
    .join('\n')}\n\nRun \`trajforge <command> --help\` for a command's options.\n`;
}

export const processIO: CliIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  isTTY: Boolean(process.stderr.isTTY),
  cwd: process.cwd(),
};

/**
 * Runs the CLI as this process (what bin/trajforge.js calls). A reader that closes the pipe
 * early (`trajforge schema | head`) is a normal end, as for other Unix tools: the rest of the
 * output has nowhere to go, so the process ends quietly with exit 0 instead of an EPIPE stack.
 */
export async function runProcess(argv: string[]): Promise<number> {
  const closedPipe = (e: NodeJS.ErrnoException) => e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED';
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (closedPipe(e)) process.exit(0);
    throw e;
  });
  // A closed stderr loses the messages but not the outcome: the command's exit code still counts.
  process.stderr.on('error', (e: NodeJS.ErrnoException) => {
    if (!closedPipe(e)) throw e;
  });
  // Ctrl-C or a scheduler's SIGTERM ends through process.exit, whose 'exit' handlers release the
  // output lock, remove the partial output of commands that cannot resume and stop ffmpeg
  // children; generate's finished checkpoints stay for --resume.
  const afterStop = argv[0] === 'generate' ? '; finished checkpoints are kept, rerun with --resume to complete' : '';
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    if (COMMANDS[argv[0] ?? '']?.handlesSignals) break;
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopped${afterStop}\n`);
      process.exit(code);
    });
  }
  return main(argv, processIO);
}

/**
 * Runs one CLI invocation and returns its exit code. The only place that turns errors into
 * text: TrajforgeError -> "error[CODE]: message" and exit 2 (bad input) or 1 (runtime failure).
 */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(`trajforge ${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`error[E_USAGE]: unknown command '${name}'; did you mean '${closest(name, Object.keys(COMMANDS), 1)[0]}'?\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`${command.summary}\n\nusage: ${command.usage}\n`);
    return 0;
  }
  try {
    setOnnxBackend(process.env[BACKEND_ENV]);
    return await command.run(rest, io);
  } catch (e) {
    if (isTrajforgeError(e)) {
      io.err(`error[${e.code}]: ${e.message}\n`);
      if (e.details.hint) io.err(`hint: ${e.details.hint}\n`);
      return e.exitCode;
    }
    io.err(`internal error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
