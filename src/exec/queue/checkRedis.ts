/**
 * Fail fast before any work: one short-lived connection (no retries, no offline queue, a deadline)
 * that authenticates and PINGs. BullMQ's own connections retry forever, which is right once a run
 * is going (a Redis restart must not kill workers) and wrong at start (a typo in the password would
 * hang). Also reads the server's version and eviction policy: BullMQ needs `noeviction`, since an
 * evicted job key silently loses a partition.
 */
import { Redis } from 'ioredis';
import { UsageError } from '../../util/errors.js';
import { bullConnection, maskRedisSecrets, type RedisTarget } from './RedisTarget.js';

export interface RedisCheck {
  version: string;
  maxmemoryPolicy: string | null;
  /** Things worth a warning (never fatal), e.g. an eviction policy other than noeviction. */
  warnings: string[];
}

/** @defaultValue 5000 ms */
export const REDIS_CHECK_TIMEOUT_MS = 5000;

/**
 * Connect, authenticate and PING within `timeoutMs`.
 * @throws {UsageError} (exit 2) wrong or missing password ("Redis at host:port rejected the
 *   password …"), unreachable server ("Cannot reach Redis at host:port within N s …"), or a server
 *   that is not Redis. The password never appears in the message.
 */
export async function checkRedis(target: RedisTarget, timeoutMs = REDIS_CHECK_TIMEOUT_MS): Promise<RedisCheck> {
  const client = new Redis({
    ...bullConnection(target),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: 'imgpipe:check',
  });
  let lastError: Error | null = null;
  client.on('error', (e: Error) => {
    lastError = e;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
  });
  try {
    const info = await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
        return client.info();
      })(),
      deadline,
    ]);
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    const maxmemoryPolicy = /maxmemory_policy:(\S+)/.exec(info)?.[1] ?? null;
    const warnings: string[] = [];
    if (maxmemoryPolicy !== null && maxmemoryPolicy !== 'noeviction') {
      warnings.push(`Redis at ${target.address} has maxmemory-policy ${maxmemoryPolicy}; BullMQ needs noeviction (an evicted job loses a partition until the driver notices). Set maxmemory-policy noeviction.`);
    }
    if (Number(version.split('.')[0]) < 6) warnings.push(`Redis ${version} at ${target.address} is older than BullMQ supports well (6.2 or newer recommended).`);
    return { version, maxmemoryPolicy, warnings };
  } catch (e) {
    throw explain(target, (lastError ?? e) as Error, timeoutMs);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** Turn a connection error into the message the user needs (exit 2). */
function explain(target: RedisTarget, error: Error, timeoutMs: number): UsageError {
  const detail = maskRedisSecrets(error.message, target).split('\n')[0]!;
  const code = (error as NodeJS.ErrnoException).code;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(detail)) {
    return new UsageError(`Redis at ${target.address} rejected the password${target.username ? ` for user ${target.username}` : ''} (${detail}). Check the URL, --redis-password-file or REDIS_URL.`);
  }
  if (/NOAUTH|without any password configured|Authentication required/i.test(detail)) {
    return new UsageError(
      target.password
        ? `Redis at ${target.address} rejected the password (${detail}). Check the URL, --redis-password-file or REDIS_URL.`
        : `Redis at ${target.address} requires a password (NOAUTH). Give it as redis://:PASSWORD@host:port, with --redis-password-file FILE, or in REDIS_URL.`,
    );
  }
  if (detail === 'timeout' || code === 'ETIMEDOUT') {
    return new UsageError(`Cannot reach Redis at ${target.address} within ${timeoutMs / 1000} s (no answer). Check the host, port, firewall and that the server is up${target.tls ? ' and speaks TLS (rediss://)' : ''}.`);
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ECONNRESET') {
    return new UsageError(`Cannot reach Redis at ${target.address} within ${timeoutMs / 1000} s (${code}: ${detail}). Check the host and port and that the server is up.`);
  }
  return new UsageError(`Cannot use Redis at ${target.address}: ${detail}`);
}
