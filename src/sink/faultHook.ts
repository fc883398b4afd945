/**
 * TEST-ONLY fault injection for the table layer. With `IMGPIPE_FAULT_EXIT_AFTER_RENAME=N` in the
 * environment, the process kills itself with SIGKILL right after the N-th rename (task commit,
 * version seal, pointer swap, old-folder move) the table layer makes, so a test can stop a commit at
 * every step deterministically (test/tableFaults.test.ts). Unset (always, outside tests) it does nothing.
 */
let renames = 0;

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
