/**
 * Where the queue lives: a Redis URL parsed once, at the edge, into connection options that BullMQ
 * and ioredis both take, plus a display form with the password masked. The password never appears
 * in a message, a log line or a job: only `display` is ever printed, and text from elsewhere that may
 * hold a URL goes through `maskRedisSecrets`. A password with an unencoded "@" (`redis://:p@ss@host`)
 * is read as WHATWG URL does (user info up to the last "@") and masked whole.
 *
 * Accepted: `redis://[user:pass@]host[:6379][/db]`, `rediss://…` (TLS), an optional
 * `--redis-password-file FILE` (first line; overrides a password in the URL) and `REDIS_URL` when
 * no `--redis` flag is given.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../../util/errors.js';
import { invalidParameterError } from '../../util/is.js';

export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL with the password replaced by `***`: the only form that is ever printed. */
  display: string;
  /** `host:port`, for messages. */
  address: string;
}

/** Options for a long-lived ioredis/BullMQ connection (BullMQ requires maxRetriesPerRequest null). */
export interface RedisConnectionOptions {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
  maxRetriesPerRequest: null;
}

const EXAMPLE = 'a Redis URL redis://[user:pass@]host:6379[/db] or rediss://… (TLS)';
const UNAMBIGUOUS = 'a Redis URL with no "?", "#" or "@" after the host (in a password write them %3F, %23, %40, or use --redis-password-file)';

/**
 * Mask the password of one URL as typed, valid or not: the user info runs to the LAST "@" (as in
 * WHATWG `new URL()`, which reads `redis://:p@ss@host` as password "p@ss"), so an unencoded "@",
 * "/", "#" or "?" in a password is masked whole. The user name (before the first ":") is kept.
 */
export function maskRedisUrl(raw: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([\s\S]*)@([^@]*)$/.exec(raw);
  if (!m) return raw;
  const colon = m[2]!.indexOf(':');
  return colon < 0 ? raw : `${m[1]}${m[2]!.slice(0, colon)}:***@${m[3]}`;
}

/**
 * Mask Redis passwords in free text (error messages from libraries): first the known password of
 * `target` anywhere (as typed and percent-encoded), then each redis:// or rediss:// URL, which runs
 * to the next white space or quote and is masked as in `maskRedisUrl`.
 */
export function maskRedisSecrets(text: string, target?: Pick<RedisTarget, 'password'>): string {
  let out = text;
  if (target?.password) {
    for (const form of new Set([target.password, encodeURIComponent(target.password)])) out = out.split(form).join('***');
  }
  return out.replace(/rediss?:\/\/[^\s"'`<>]*/g, (url) => maskRedisUrl(url));
}

/**
 * Parse a Redis URL. `passwordFile` (its first line) replaces the URL's password.
 * @throws {UsageError} not a redis:// or rediss:// URL, bad port or db, unreadable password file.
 */
export function parseRedisUrl(raw: string, passwordFile?: string, flag = '--redis'): RedisTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidParameterError(flag, EXAMPLE, maskRedisUrl(raw));
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw invalidParameterError(flag, EXAMPLE, maskRedisUrl(raw));
  // An unencoded "?", "#" or "/" in a password ends the host early (`redis://:p@ss#w@h` is host "ss"):
  // a query, a fragment or an "@" after the host is refused, not connected to.
  if (url.search !== '' || url.hash !== '' || url.pathname.includes('@')) throw invalidParameterError(flag, UNAMBIGUOUS, maskRedisUrl(raw));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw invalidParameterError(flag, EXAMPLE, maskRedisUrl(raw));
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbPath = url.pathname.replace(/^\//, '');
  if (!/^\d{0,2}$/.test(dbPath)) throw invalidParameterError(`${flag} database`, 'a database number between 0 and 99 after the host (/0)', dbPath);
  const db = dbPath === '' ? 0 : Number(dbPath);
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  let password = url.password ? decodeURIComponent(url.password) : undefined;
  if (passwordFile !== undefined) {
    try {
      password = readFileSync(passwordFile, 'utf8').split(/\r?\n/)[0]!;
    } catch (e) {
      throw new UsageError(`Cannot read the Redis password from --redis-password-file ${passwordFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (password === '') throw new UsageError(`--redis-password-file ${passwordFile} is empty; expected the password on its first line`);
  }
  const tls = url.protocol === 'rediss:';
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  // Encoded user name: the display form reads back as the same URL (with the password put in).
  const auth = username || password ? `${username ? encodeURIComponent(username) : ''}${password ? ':***' : ''}@` : '';
  return {
    host,
    port,
    db,
    username,
    password,
    tls,
    address,
    display: `${url.protocol}//${auth}${address}${db ? `/${db}` : ''}`,
  };
}

/**
 * The Redis target from `--redis` or, when the flag is absent, `REDIS_URL`.
 * @throws {UsageError} neither given, or the URL or password file is bad.
 */
export function resolveRedisTarget(flags: { redis?: string; redisPasswordFile?: string }, env: NodeJS.ProcessEnv = process.env): RedisTarget {
  if (flags.redis !== undefined) return parseRedisUrl(flags.redis, flags.redisPasswordFile, '--redis');
  if (env.REDIS_URL) return parseRedisUrl(env.REDIS_URL, flags.redisPasswordFile, 'REDIS_URL');
  throw new UsageError(`Expected ${EXAMPLE} for --redis (or the REDIS_URL environment variable) but received nothing`);
}

/** Connection options for BullMQ's Queue, Worker and QueueEvents (they reconnect forever). */
export function bullConnection(target: RedisTarget): RedisConnectionOptions {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}
