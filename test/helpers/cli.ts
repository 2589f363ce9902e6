// Runs the CLI from the TypeScript sources in a child process (for kill / resume tests).
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
