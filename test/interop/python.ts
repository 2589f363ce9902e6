/**
 * Debian's python3 for the interop suite (numpy, h5py, onnx, torch, av, installed by .ci/run with
 * apt). The absolute path skips pyenv's python3, which comes first on PATH and has none of them.
 */
import { execFileSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

/** Runs a script (code or a file path) and parses the JSON it prints last. */
export function py(script: string, ...args: string[]): unknown {
  const argv = script.endsWith('.py') ? [script, ...args] : ['-c', script, ...args];
  return JSON.parse(execFileSync(PYTHON, argv, { maxBuffer: 1 << 28 }).toString().trim().split('\n').at(-1)!);
}

/** numpy with `I` bound to the JSON input; the script prints its JSON answer. */
export function numpy(script: string, input: unknown): unknown {
  const code = `import json, sys, numpy as np\nI = json.load(sys.stdin)\n${script}`;
  return JSON.parse(execFileSync(PYTHON, ['-c', code], { input: JSON.stringify(input), maxBuffer: 1 << 28 }).toString());
}
