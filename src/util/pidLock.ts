/**
 * One holder at a time on this machine: a lock file holding `{"pid","host"}` of its holder.
 *
 *   acquire: create the file exclusively (content written to a temp file, then `link`ed into place,
 *            so the lock never exists empty). If it exists: held by this process → refused (not
 *            re-entrant); held by a live process, or by a process on another host (whose liveness
 *            cannot be checked from here) → refused with a UsageError naming it; held by a process
 *            that is dead on this host (or unreadable: not a lock this module wrote) → removed, if it
 *            still has the content judged stale, and created again, once.
 *   release: remove the file only if it still names this holder. Idempotent; never throws.
 *
 * Local files only (link(2), pids): for a lock on any TableStore, with heartbeats, see
 * src/sink/TableLock.ts, which shares `processIsDead` with this module.
 * Two processes taking over the same stale lock within the same instant may both succeed; a lock
 * for single writers that a person starts, not for a contended scheduler.
 */
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { atomicTempPath } from './atomicWrite.js';
import { UsageError } from './errors.js';

export interface PidLockHolder {
  pid: number;
  host: string;
}

/** Whether `pid` is known to be gone on this host (kill(pid, 0) says ESRCH). EPERM means alive. */
export function processIsDead(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export class PidLock {
  private released = false;

  private constructor(
    readonly file: string,
    readonly holder: PidLockHolder,
  ) {}

  /**
   * Take the lock `file` (its folder must exist). `what` names what it guards, for messages
   * (`warehouse /data/wh`). @throws {UsageError} when another live process, or this process, holds it.
   */
  static acquire(file: string, what: string): PidLock {
    const holder: PidLockHolder = { pid: process.pid, host: os.hostname() };
    const body = JSON.stringify(holder) + '\n';
    for (let attempt = 0; attempt < 2; attempt++) {
      if (createExclusive(file, body)) return new PidLock(file, holder);
      const raw = readRaw(file);
      if (raw === null) continue; // released between our create and our read
      const current = parseHolder(raw);
      if (current && current.host === holder.host && current.pid === process.pid) {
        throw new UsageError(`${what} is already locked by this process (lock ${file})`);
      }
      if (current && current.host !== holder.host) {
        throw new UsageError(`${what} is locked by process ${current.pid} on ${current.host} (lock ${file}); if that process is gone, remove ${file}`);
      }
      if (current && !processIsDead(current.pid)) {
        throw new UsageError(`${what} is locked by process ${current.pid} (lock ${file})`);
      }
      if (readRaw(file) === raw) rmSync(file, { force: true }); // stale: its process is gone
    }
    throw new UsageError(`could not take the lock ${file} of ${what}: another process took it over first`);
  }

  /** Remove the lock if it still names this holder. Idempotent; never throws. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      const current = parseHolder(readRaw(this.file));
      if (current && current.pid === this.holder.pid && current.host === this.holder.host) rmSync(this.file, { force: true });
    } catch {
      // never throw from release
    }
  }
}

/** Create `file` holding `body`, or return false when it exists. */
function createExclusive(file: string, body: string): boolean {
  const tmp = atomicTempPath(file);
  try {
    writeFileSync(tmp, body);
    linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function readRaw(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The holder a lock names; a bare pid (as earlier versions wrote) names a process on this host. */
function parseHolder(raw: string | null): PidLockHolder | null {
  if (raw === null) return null;
  if (/^\d+\s*$/.test(raw)) return { pid: Number.parseInt(raw, 10), host: os.hostname() };
  try {
    const h = JSON.parse(raw) as PidLockHolder;
    return Number.isInteger(h.pid) && typeof h.host === 'string' ? h : null;
  } catch {
    return null;
  }
}
