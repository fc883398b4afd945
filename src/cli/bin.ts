#!/usr/bin/env node
/**
 * The `imgpipe` executable: runs `main` (program.ts) on the process's arguments and exits with its
 * code. Everything with a side effect on the process lives here, nowhere else in src/cli.
 */
import { main } from './program.js';

// `imgpipe … | head` closes stdout early: that is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode === undefined ? 0 : Number(process.exitCode));
    throw e;
  });
}

const code = await main(process.argv);
process.exitCode = code;
// Native handles (onnxruntime, DuckDB, worker threads) are closed by the commands; exit promptly anyway.
setImmediate(() => process.exit(code));
