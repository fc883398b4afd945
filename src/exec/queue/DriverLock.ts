/**
 * One driver per run: a Redis lease `imgpipe:<queue>:driver:<run_id>` (SET NX PX, renewed at a
 * third of its TTL, released on close). Two drivers committing the same run would race on the
 * run's staging folder; a second one (a resumed driver while the first is still alive, a Kubernetes
 * Job restarted while its old pod terminates) waits until the lease expires, then takes over, or
 * gives up with a message naming the holder.
 *
 * Sequence: `DriverLock.acquire` → (`lost` checked by the driver loop) → `release`.
 * If the process dies, the lease expires after `ttlMs` and a resumed driver takes it.
 * If Redis forgets the lease (restarted without persistence, key evicted), the next renewal takes
 * it again (SET NX): the driver rides through the restart. It is lost only when another driver
 * holds it. While Redis is unreachable, renewals wait (the lease outlives the outage only if no
 * other driver took it meanwhile, which the renewal after the reconnection finds out).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Redis } from 'ioredis';
import { UsageError } from '../../util/errors.js';
import { QUEUE_PREFIX } from './jobs.js';

/** @defaultValue 10000 ms: how long a dead driver blocks its successor. */
export const DRIVER_LOCK_TTL_MS = 10_000;

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1 or 0 end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export class DriverLock {
  private timer: NodeJS.Timeout | null = null;
  private lostReason: string | null = null;
  /** A renewal in progress (while Redis is down they would pile up in the offline queue). */
  private renewing = false;

  private constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly value: string,
    private readonly ttlMs: number,
    private readonly onReacquired?: () => void,
  ) {}

  /**
   * Take the run's lease, waiting up to `ttlMs` plus a margin for an earlier holder's lease to expire.
   * @throws {UsageError} another live driver keeps renewing it.
   */
  static async acquire(
    redis: Redis,
    queueName: string,
    runId: string,
    options: { ttlMs?: number; onWait?: (holder: string) => void; /** The lease was gone from Redis and was taken again. */ onReacquired?: () => void } = {},
  ): Promise<DriverLock> {
    const ttlMs = options.ttlMs ?? DRIVER_LOCK_TTL_MS;
    const key = `${QUEUE_PREFIX}:${queueName}:driver:${runId}`;
    const value = JSON.stringify({ host: os.hostname(), pid: process.pid, since: new Date().toISOString(), token: randomBytes(8).toString('hex') });
    const giveUpAt = Date.now() + ttlMs + 2000;
    let warned = false;
    for (;;) {
      if ((await redis.set(key, value, 'PX', ttlMs, 'NX')) === 'OK') break;
      const holder = await redis.get(key);
      if (Date.now() > giveUpAt) {
        throw new UsageError(`Run ${runId} is being driven by another process (${describe(holder)}); stop it first, or wait for it to finish.`);
      }
      if (!warned && holder) {
        options.onWait?.(describe(holder));
        warned = true;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const lock = new DriverLock(redis, key, value, ttlMs, options.onReacquired);
    lock.timer = setInterval(() => void lock.renew(), Math.max(100, Math.floor(ttlMs / 3)));
    return lock;
  }

  /** Why the lease was lost (another driver took it, Redis forgot it), or null while held. */
  get lost(): string | null {
    return this.lostReason;
  }

  private async renew(): Promise<void> {
    if (this.renewing || this.lostReason) return;
    this.renewing = true;
    try {
      const renewed = await this.redis.eval(RENEW, 1, this.key, this.value, String(this.ttlMs));
      if (renewed === 1) return;
      // Gone (Redis restarted without persistence, or the lease expired while Redis was away):
      // take it again, unless another driver has it.
      if ((await this.redis.set(this.key, this.value, 'PX', this.ttlMs, 'NX')) === 'OK') {
        this.onReacquired?.();
        return;
      }
      const holder = await this.redis.get(this.key);
      if (holder !== this.value) this.lostReason = `the driver lease ${this.key} is held by another driver (${describe(holder)}); is another driver running this run?`;
    } catch {
      // Redis briefly unreachable: keep trying; the lease survives until its TTL.
    } finally {
      this.renewing = false;
    }
  }

  /** Give the lease up (only if still ours). Never throws; calling it twice is harmless. */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.redis.eval(RELEASE, 1, this.key, this.value).catch(() => undefined);
  }
}

function describe(holder: string | null): string {
  if (!holder) return 'unknown holder';
  try {
    const h = JSON.parse(holder) as { host: string; pid: number; since: string };
    return `pid ${h.pid} on ${h.host}, since ${h.since}`;
  } catch {
    return 'unknown holder';
  }
}
