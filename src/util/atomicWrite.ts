/**
 * Replace a file whole. The new content goes to a temporary file in the target's folder
 * (`.<name>.<pid>-<random>.tmp`: hidden, and not matched by a `*.parquet` or `*.json` glob), which is
 * then renamed over the target. rename(2) within one file system is atomic on POSIX, so a reader
 * opening the target sees the old file or the new one, never half of one, never none (once it exists).
 *
 * Failure: if writing or renaming fails, the temporary file is removed and the write's error is
 * rethrown; the target is untouched. A process killed between the write and the rename leaves its temporary
 * file behind (never the target half-written); `isAtomicTempOf` tells such leftovers apart.
 * Not a durability guarantee: nothing is fsynced (a power loss may leave the old file or an empty one).
 * The target's folder must exist.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** A fresh temporary path beside `target`, unique per process and call. */
export function atomicTempPath(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/** Whether the file name `name` is a temporary file of an atomic write of a file named `targetName` (a leftover once its writer is gone). */
export function isAtomicTempOf(name: string, targetName: string): boolean {
  return name.startsWith(`.${targetName}.`) && name.endsWith('.tmp');
}

/** Replace `target` with `data` (see the module comment). */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  const tmp = atomicTempPath(target);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, target);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the write's error is the one to report
    }
    throw e;
  }
}

/**
 * Replace `target` with whatever `write` puts at the temporary path it is given (a DuckDB `COPY … TO`,
 * a stream): when `write` resolves, the file is renamed over the target; when it rejects, or the
 * rename fails, the temporary file is removed and the error rethrown, the target untouched.
 * Returns what `write` returned.
 */
export async function replaceFileWith<T>(target: string, write: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = atomicTempPath(target);
  try {
    const result = await write(tmp);
    await rename(tmp, target);
    return result;
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined); // the write's error is the one to report
    throw e;
  }
}
