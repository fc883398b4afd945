/**
 * One writer per table: a run holds `<table>/_lock.json` from planning to registration, so two
 * nightly runs on the same table cannot overlap. The file is created exclusively (O_EXCL) and names
 * its holder (run id, pid, host, start, heartbeat). A lock whose holder is gone does not stay stuck:
 * it is taken over when its pid is dead on this host, or when its heartbeat (refreshed every
 * `heartbeatMs`) is older than `staleAfterMs` (a holder on another host that died).
 *
 * Local and mounted table locations only (the embedded warehouse); `release` is idempotent and never
 * throws.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../util/errors.js';

export interface LockHolder {
  run_id: string;
  pid: number;
  host: string;
  started_at: string;
  heartbeat_at: string;
}

export interface TableLockOptions {
  /** @defaultValue 30 000 */
  heartbeatMs?: number;
  /** @defaultValue 300 000 (five missed heartbeats … ten) */
  staleAfterMs?: number;
}

export class TableLock {
  private timer: NodeJS.Timeout | null = null;
  private released = false;

  private constructor(
    readonly file: string,
    private readonly holder: LockHolder,
  ) {}

  /** @throws {UsageError} naming the holder when another live run holds the table. */
  static acquire(tableLocation: string, runId: string, options: TableLockOptions = {}): TableLock {
    mkdirSync(tableLocation, { recursive: true });
    const file = path.join(tableLocation, '_lock.json');
    const now = new Date().toISOString();
    const holder: LockHolder = { run_id: runId, pid: process.pid, host: os.hostname(), started_at: now, heartbeat_at: now };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx');
        writeSync(fd, JSON.stringify(holder) + '\n');
        closeSync(fd);
        const lock = new TableLock(file, holder);
        lock.startHeartbeat(options.heartbeatMs ?? 30_000);
        return lock;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const current = readHolder(file);
      if (current && current.run_id === runId && current.host === holder.host && current.pid === process.pid) {
        return new TableLock(file, current); // re-entrant within one process
      }
      if (current && !isStale(current, options.staleAfterMs ?? 300_000)) {
        const age = Math.round((Date.now() - Date.parse(current.heartbeat_at)) / 1000);
        throw new UsageError(
          `Table ${tableLocation} is being written by run ${current.run_id} (pid ${current.pid} on ${current.host}, started ${current.started_at}, last heartbeat ${age} s ago). ` +
            `Wait for it to finish; if that run is gone for good, remove ${file}.`,
        );
      }
      rmSync(file, { force: true }); // stale or unreadable: take it over
    }
    throw new UsageError(`Could not take the lock ${file}: another run took it at the same moment; try again.`);
  }

  private startHeartbeat(everyMs: number): void {
    this.timer = setInterval(() => {
      try {
        writeFileSync(this.file, JSON.stringify({ ...this.holder, heartbeat_at: new Date().toISOString() }) + '\n');
      } catch {
        // the next beat tries again; a lost lock file is taken over by nobody while we live
      }
    }, everyMs);
    this.timer.unref();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    try {
      const current = readHolder(this.file);
      if (current && current.run_id === this.holder.run_id && current.pid === this.holder.pid) rmSync(this.file, { force: true });
    } catch {
      // never throw from release
    }
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
  } catch {
    return null;
  }
}

function isStale(holder: LockHolder, staleAfterMs: number): boolean {
  if (holder.host === os.hostname()) {
    try {
      process.kill(holder.pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true;
    }
  }
  const beat = Date.parse(holder.heartbeat_at);
  return Number.isNaN(beat) || Date.now() - beat > staleAfterMs;
}
