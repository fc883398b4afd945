/**
 * The flags every queue-facing command shares (`run --executor queue`, `worker`, `status`):
 * `--redis URL`, `--redis-password-file FILE`, `--queue NAME`, and how they resolve
 * (flag, else `REDIS_URL`; the password file overrides the URL's password).
 */
import { Option } from 'commander';
import { checkQueueName, DEFAULT_QUEUE } from '../exec/queue/jobs.js';
import { resolveRedisTarget, type RedisTarget } from '../exec/queue/RedisTarget.js';

export interface RedisFlags {
  redis?: string;
  redisPasswordFile?: string;
  queue: string;
}

export function redisUrlOption(): Option {
  return new Option('--redis <url>', 'Redis of the queue: redis://[user:pass@]host:6379[/db], rediss:// for TLS (default: $REDIS_URL)');
}

export function redisPasswordFileOption(): Option {
  return new Option('--redis-password-file <file>', 'read the Redis password from the first line of this file (overrides one in the URL)');
}

export function queueNameOption(): Option {
  return new Option('--queue <name>', 'queue name: drivers and workers must agree').default(DEFAULT_QUEUE);
}

/** Validated Redis target and queue name. @throws {UsageError} no URL anywhere, a bad URL, a bad queue name. */
export function resolveQueueFlags(flags: RedisFlags): { target: RedisTarget; queueName: string } {
  return { target: resolveRedisTarget(flags), queueName: checkQueueName(flags.queue) };
}
