/**
 * The `imgpipe` command-line program, without side effects: `buildProgram()` makes the commander
 * program (each command lives in its own module and registers itself) and `main(argv)` parses and
 * runs it, returning the exit code instead of exiting. `bin.ts` is the executable around it; tests
 * call `main` in-process (test/util/cli.ts, `imgpipeInProcess`).
 *
 * Exit codes: 0 done (a run committed, even with error rows), 1 the run failed,
 * 2 bad usage or input (bad flag, unknown model, bad card, SQL error), 130 interrupted.
 */
import { Command, CommanderError } from 'commander';
import { registerCompactCommand } from './compactCommand.js';
import { registerDoctorCommand } from './doctorCommand.js';
import { registerExportCommand } from './exportCommand.js';
import { registerModelsCommand } from './modelsCommand.js';
import { registerPipeCommand } from './pipeCommand.js';
import { registerReportCommand } from './reportCommand.js';
import { registerRunCommand } from './runCommand.js';
import { registerStatusCommand } from './statusCommand.js';
import { registerTableCommand } from './tableCommand.js';
import { registerTrainCommand } from './trainCommand.js';
import { registerWorkerCommand } from './workerCommand.js';
import { registerWarehouseCommand } from './warehouseCommand.js';
import { UsageError } from '../util/errors.js';
import { getLogger } from '../util/log.js';
import { packageVersion } from './packageVersion.js';

export function buildProgram(): Command {
  const program = new Command('imgpipe')
    .description('Batch inference over Wikimedia Commons images: select → plan → execute → commit to Hive-partitioned Parquet.')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerWarehouseCommand(program);
  registerRunCommand(program);
  registerWorkerCommand(program);
  registerPipeCommand(program);
  registerStatusCommand(program);
  registerTrainCommand(program);
  registerReportCommand(program);
  registerCompactCommand(program);
  registerExportCommand(program);
  registerTableCommand(program);
  registerModelsCommand(program);
  registerDoctorCommand(program);
  program.addHelpText(
    'after',
    `
Examples:
  imgpipe warehouse init --warehouse ./wh --demo
  imgpipe run --warehouse ./wh --model quality-basic --all
  imgpipe run --warehouse ./wh --model color-embed --category Landscapes --depth 2 --json
  imgpipe worker --redis redis://:PASSWORD@redis-host:6379          (on each node)
  imgpipe run --warehouse ./wh --model quality-basic --all --executor queue --redis redis://:PASSWORD@redis-host:6379
  imgpipe status
  imgpipe models list
  imgpipe doctor`,
  );
  // Sub-commands inherit exitOverride so usage errors reach the handler below.
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version "errors" are exit 0; commander already printed the message.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`imgpipe: error: ${e.message}\n`);
      return 2;
    }
    getLogger().error({ err: e }, 'failed');
    process.stderr.write(`imgpipe: failed: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}
