/**
 * One writer at a time: a run holds `<table>/_lock.json` from planning to registration (a compaction
 * or `imgpipe table` change holds it too), and the warehouse holds `<warehouse>/_metastore.lock` while
 * it rewrites `metastore.json`. Works on every TableStore (local, mounted, WebHDFS).
 *
 * Protocol:
 *   acquire:  createExclusive(lock, holder JSON) — the content lands with the file (never empty).
 *             If it exists: the holder is this process → re-entrant; a live holder → refused
 *             (or, with `waitMs`, retried until then); a stale holder (its pid is dead on this host,
 *             or its heartbeat is older than `staleAfterMs`) → takeover.
 *   takeover: a compare-and-swap: createExclusive(`<lock>.takeover`); only its creator goes on,
 *             re-reads the lock and, only if it is still byte-for-byte the stale content it judged,
 *             removes it and creates its own exclusively, then removes the marker. The loser of the
 *             marker is refused (or waits). An abandoned marker (its creator died in these few
 *             milliseconds) is removed once it is older than `staleAfterMs`.
 *   heartbeat: every `heartbeatMs`, re-read the lock; write the new beat only if the lock still names
 *             this holder. If it does not (taken over after our heartbeats stalled, or removed by hand)
 *             the beat stops, `lost` is set and `assertHeld()` throws: the writer must not publish.
 *   release:  remove the lock only if it still names this holder. Idempotent; never throws.
 * An unreadable lock file (HDFS, mid-create) counts as held, never as stale: it is re-read for two
 * seconds, then reported.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import { UsageError } from '../util/errors.js';
import { processIsDead } from '../util/pidLock.js';
import { parentLocation } from './location.js';
import type { TableStore } from './TableStore.js';

export interface LockHolder {
  run_id: string;
  pid: number;
  host: string;
  started_at: string;
  heartbeat_at: string;
  /** Unique per acquisition: two acquisitions by one run id are told apart. */
  token?: string;
}

export interface TableLockOptions {
  /** @defaultValue 30 000 */
  heartbeatMs?: number;
  /** @defaultValue 300 000 (ten missed heartbeats) */
  staleAfterMs?: number;
  /** Keep trying a held lock this long before refusing (the warehouse lock waits). @defaultValue 0 */
  waitMs?: number;
  /** What the lock protects, for messages. @defaultValue 'Table <parent folder>' */
  what?: string;
  log?: Logger;
}

export class TableLock {
  private timer: NodeJS.Timeout | null = null;
  private released = false;
  private lostTo: LockHolder | null | undefined = undefined;
  private beating: Promise<void> = Promise.resolve();

  private constructor(
    readonly store: TableStore,
    readonly file: string,
    readonly holder: LockHolder,
    private readonly options: TableLockOptions,
    /** A second acquire by the holding process: its release leaves the lock to the first. */
    private readonly reentrant = false,
  ) {}

  /**
   * @throws {UsageError} naming the holder when another live run holds the lock (after `waitMs`).
   * If this throws for another reason (the store failed), no lock of ours is left behind, except
   * possibly a `.takeover` marker, which ages out.
   */
  static async acquire(store: TableStore, file: string, runId: string, options: TableLockOptions = {}): Promise<TableLock> {
    await store.mkdirs(parentLocation(file));
    const now = new Date().toISOString();
    const holder: LockHolder = { run_id: runId, pid: process.pid, host: os.hostname(), started_at: now, heartbeat_at: now, token: randomBytes(6).toString('hex') };
    const what = options.what ?? `Table ${parentLocation(file)}`;
    const staleAfter = options.staleAfterMs ?? 300_000;
    const deadline = Date.now() + (options.waitMs ?? 0);
    let unreadableSince: number | null = null;
    for (let attempt = 0; ; attempt++) {
      if (await store.createExclusive(file, JSON.stringify(holder) + '\n')) return TableLock.held(store, file, holder, options, 'acquired');
      const raw = await readRaw(store, file);
      const current = parseHolder(raw);
      if (current && current.run_id === runId && current.host === holder.host && current.pid === process.pid) {
        return new TableLock(store, file, current, options, true); // re-entrant within one process
      }
      let refusal: string;
      if (raw === null) {
        refusal = ''; // released between our create and our read: try again at once
      } else if (current && isStale(current, staleAfter)) {
        const lock = await TableLock.takeOver(store, file, raw, holder, options, staleAfter);
        if (lock) return lock;
        refusal = `${what} is being taken over by another run at this moment (its lock ${file} was stale); try again.`;
      } else if (current) {
        const age = Math.round((Date.now() - Date.parse(current.heartbeat_at)) / 1000);
        refusal =
          `${what} is being written by run ${current.run_id} (pid ${current.pid} on ${current.host}, started ${current.started_at}, last heartbeat ${age} s ago). ` +
          `Wait for it to finish; if that run is gone for good, remove ${file}.`;
      } else {
        // HDFS shows an exclusively created file empty until its block is written: give it a moment.
        unreadableSince ??= Date.now();
        refusal = `${what} is locked by ${file}, which cannot be read (being written, or damaged). If no run is writing, remove ${file}.`;
        if (Date.now() - unreadableSince < UNREADABLE_GRACE_MS) {
          await sleep(50);
          continue;
        }
      }
      if (refusal !== '' && Date.now() >= deadline) throw new UsageError(refusal);
      if (refusal !== '') await sleep(Math.min(50 + attempt * 10, 250));
    }
  }

  /** The compare-and-swap of a stale lock; null when another contender holds the takeover marker. */
  private static async takeOver(store: TableStore, file: string, staleRaw: string, holder: LockHolder, options: TableLockOptions, staleAfter: number): Promise<TableLock | null> {
    const marker = `${file}.takeover`;
    if (!(await store.createExclusive(marker, JSON.stringify(holder) + '\n'))) {
      const other = parseHolder(await readRaw(store, marker));
      if (other && Date.now() - Date.parse(other.started_at) > staleAfter) await store.remove(marker); // abandoned
      return null;
    }
    try {
      if ((await readRaw(store, file)) !== staleRaw) return null; // changed since we judged it
      await store.remove(file);
      if (!(await store.createExclusive(file, JSON.stringify(holder) + '\n'))) return null;
      const stale = parseHolder(staleRaw)!;
      options.log?.warn({ lock: file, previous: stale }, `took over the stale lock of run ${stale.run_id} (pid ${stale.pid} on ${stale.host})`);
      return TableLock.held(store, file, holder, options, 'took over');
    } finally {
      await store.remove(marker).catch(() => undefined);
    }
  }

  private static held(store: TableStore, file: string, holder: LockHolder, options: TableLockOptions, how: string): TableLock {
    const lock = new TableLock(store, file, holder, options);
    options.log?.info({ lock: file, run_id: holder.run_id, token: holder.token, at: Date.now() }, `lock ${how}`);
    lock.startHeartbeat(options.heartbeatMs ?? 30_000);
    return lock;
  }

  /** True once a heartbeat found the lock no longer ours. */
  get lost(): boolean {
    return this.lostTo !== undefined;
  }

  /** @throws {Error} when the lock was taken from this holder: nothing may be published under it. */
  async assertHeld(): Promise<void> {
    await this.beating;
    if (!this.lost) {
      const current = parseHolder(await readRaw(this.store, this.file));
      if (!sameHolder(current, this.holder)) this.lostTo = current;
    }
    if (this.lost) {
      const by = this.lostTo ? `run ${this.lostTo.run_id} (pid ${this.lostTo.pid} on ${this.lostTo.host})` : 'nobody (the lock file was removed)';
      throw new Error(`Lost the lock ${this.file} of run ${this.holder.run_id}: it is now held by ${by}; nothing was published by this run`);
    }
  }

  private startHeartbeat(everyMs: number): void {
    this.timer = setInterval(() => {
      this.beating = this.beat().catch(() => undefined); // the next beat tries again
    }, everyMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    if (this.released || this.lost) return;
    const current = parseHolder(await readRaw(this.store, this.file));
    if (!sameHolder(current, this.holder)) {
      this.lostTo = current;
      if (this.timer) clearInterval(this.timer);
      this.options.log?.error({ lock: this.file, holder: current }, `lost the lock ${this.file}: it no longer names run ${this.holder.run_id}`);
      return;
    }
    await this.store.writeFile(this.file, JSON.stringify({ ...this.holder, heartbeat_at: new Date().toISOString() }) + '\n');
  }

  /** Remove the lock if it is still ours. Idempotent; never throws. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.reentrant) return;
    if (this.timer) clearInterval(this.timer);
    try {
      await this.beating;
      const current = parseHolder(await readRaw(this.store, this.file));
      if (sameHolder(current, this.holder)) {
        await this.store.remove(this.file);
        this.options.log?.info({ lock: this.file, run_id: this.holder.run_id, token: this.holder.token, at: Date.now() }, 'lock released');
      }
    } catch {
      // never throw from release
    }
  }
}

async function readRaw(store: TableStore, file: string): Promise<string | null> {
  const b = await store.readFile(file);
  return b === null ? null : b.toString('utf8');
}

function parseHolder(raw: string | null): LockHolder | null {
  if (raw === null) return null;
  try {
    const h = JSON.parse(raw) as LockHolder;
    return typeof h.run_id === 'string' && typeof h.pid === 'number' ? h : null;
  } catch {
    return null;
  }
}

function sameHolder(a: LockHolder | null, b: LockHolder): boolean {
  return a !== null && a.run_id === b.run_id && a.pid === b.pid && a.host === b.host && a.token === b.token;
}

function isStale(holder: LockHolder, staleAfterMs: number): boolean {
  if (holder.host === os.hostname() && processIsDead(holder.pid)) return true;
  const beat = Date.parse(holder.heartbeat_at);
  return Number.isNaN(beat) || Date.now() - beat > staleAfterMs;
}

/** How long an unreadable lock file is re-read before it is reported. */
const UNREADABLE_GRACE_MS = 2_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
