/**
 * TEST-ONLY fault injection for the table layer and the driver's commits. Unset (always, outside
 * tests) each hook does nothing.
 *
 * - `IMGPIPE_FAULT_EXIT_AFTER_RENAME=N`: the process kills itself with SIGKILL right after the N-th
 *   rename (task commit, version seal, pointer swap, old-folder move) the table layer makes, so a test
 *   can stop a commit at every step deterministically (test/tableFaults.test.ts).
 * - `IMGPIPE_FAULT_HOLD_AFTER_DONE=N`: the driver commits N partitions (N done records), writes
 *   `imgpipe: IMGPIPE_FAULT_HOLD_AFTER_DONE=N: holding` on stderr and never commits another: every later
 *   partition commit waits until the process is killed. A test that sees the line knows the run is
 *   mid-way (N partitions done, the others not) however fast the machine (test/e2e.test.ts).
 */
let renames = 0;
let commitsAdmitted = 0;
let commitsDone = 0;

/** Count one completed rename; dies here if it is the one the test asked for. */
export function afterRename(): void {
  const n = Number(process.env.IMGPIPE_FAULT_EXIT_AFTER_RENAME);
  if (!Number.isInteger(n) || n <= 0) return;
  renames += 1;
  if (renames === n) {
    process.kill(process.pid, 'SIGKILL');
    process.exit(137); // not reached: SIGKILL to oneself is delivered before kill() returns
  }
}

const holdAfterDone = (): number | null => {
  const n = Number(process.env.IMGPIPE_FAULT_HOLD_AFTER_DONE);
  return Number.isInteger(n) && n > 0 ? n : null;
};

/** Before a partition commit: with the hold set, the (N+1)-th and later never return. */
export async function beforePartitionCommit(): Promise<void> {
  const n = holdAfterDone();
  if (n === null) return;
  if (commitsAdmitted < n) {
    commitsAdmitted += 1;
    return;
  }
  // A pending promise alone would not keep the process alive; the timer does, until the kill.
  await new Promise(() => setInterval(() => undefined, 2 ** 30));
}

/** After a partition commit wrote its done record: announces the hold once the N-th is done. */
export function afterPartitionCommit(): void {
  const n = holdAfterDone();
  if (n === null) return;
  commitsDone += 1;
  if (commitsDone === n) process.stderr.write(`imgpipe: IMGPIPE_FAULT_HOLD_AFTER_DONE=${n}: holding\n`);
}
