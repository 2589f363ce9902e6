// Runs the CLI from the TypeScript sources in a child process (for kill / resume tests), as bin/trajforge.js does.
import { runProcess } from '../../src/cli/main.js';

process.exitCode = await runProcess(process.argv.slice(2));
