/**
 * Redis URLs at the edge: parsing, the password file and REDIS_URL, masking, job ids and queue
 * names. No server needed (test/queue.test.ts runs against a real one).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkQueueName, partitionJobId, partitionOfJobId } from '../src/exec/queue/jobs.js';
import { bullConnection, maskRedisSecrets, maskRedisUrl, parseRedisUrl, resolveRedisTarget } from '../src/exec/queue/RedisTarget.js';
import { tempDir } from './util/cli.js';

const tmp = tempDir('imgpipe-redis-url-');
afterAll(() => tmp.cleanup());

describe('parseRedisUrl', () => {
  it('reads host, port, db, user and password, and masks the password in the display form', () => {
    expect(parseRedisUrl('redis://:s3cret@redis.internal:6380/2')).toEqual({
      host: 'redis.internal', port: 6380, db: 2, username: undefined, password: 's3cret', tls: false,
      address: 'redis.internal:6380', display: 'redis://:***@redis.internal:6380/2',
    });
    expect(parseRedisUrl('rediss://imgpipe:p%40ss@10.0.0.5')).toMatchObject({ host: '10.0.0.5', port: 6379, db: 0, username: 'imgpipe', password: 'p@ss', tls: true, display: 'rediss://imgpipe:***@10.0.0.5:6379' });
    expect(parseRedisUrl('redis://[::1]:7000')).toMatchObject({ host: '::1', port: 7000, address: '[::1]:7000', display: 'redis://[::1]:7000' });
    expect(parseRedisUrl('redis://localhost')).toMatchObject({ host: 'localhost', port: 6379, password: undefined, display: 'redis://localhost:6379' });
  });

  it('takes the password from the first line of --redis-password-file, over the URL', () => {
    const file = path.join(tmp.dir, 'pw');
    writeFileSync(file, 'from-file\nignored\n');
    expect(parseRedisUrl('redis://:from-url@h:1', file).password).toBe('from-file');
    writeFileSync(file, '\n');
    expect(() => parseRedisUrl('redis://h:1', file)).toThrow(`--redis-password-file ${file} is empty; expected the password on its first line`);
    expect(() => parseRedisUrl('redis://h:1', path.join(tmp.dir, 'missing'))).toThrow(`Cannot read the Redis password from --redis-password-file ${path.join(tmp.dir, 'missing')}: ENOENT`);
  });

  it.each([
    ['http://h:6379', 'Expected a Redis URL redis://[user:pass@]host:6379[/db] or rediss://… (TLS) for --redis but received "http://h:6379" of type string'],
    ['h:6379', 'Expected a Redis URL redis://[user:pass@]host:6379[/db] or rediss://… (TLS) for --redis but received "h:6379" of type string'],
    ['redis://:hunter2@', 'Expected a Redis URL redis://[user:pass@]host:6379[/db] or rediss://… (TLS) for --redis but received "redis://:***@" of type string'],
    ['redis://h:6379/x', 'Expected a database number between 0 and 99 after the host (/0) for --redis database but received "x" of type string'],
  ])('rejects %s with the standard message, never echoing a password', (raw, message) => {
    expect(() => parseRedisUrl(raw)).toThrow(message);
  });
});

describe('resolveRedisTarget', () => {
  it('uses --redis, else REDIS_URL, else says what is missing', () => {
    expect(resolveRedisTarget({ redis: 'redis://a:1' }, { REDIS_URL: 'redis://b:2' }).host).toBe('a');
    expect(resolveRedisTarget({}, { REDIS_URL: 'redis://b:2' }).host).toBe('b');
    expect(() => resolveRedisTarget({}, { REDIS_URL: 'nope' })).toThrow('for REDIS_URL but received "nope"');
    expect(() => resolveRedisTarget({}, {})).toThrow(
      'Expected a Redis URL redis://[user:pass@]host:6379[/db] or rediss://… (TLS) for --redis (or the REDIS_URL environment variable) but received nothing',
    );
  });

  it('gives BullMQ connection options with TLS and auth only when set', () => {
    expect(bullConnection(parseRedisUrl('redis://h:1'))).toEqual({ host: 'h', port: 1, db: 0, maxRetriesPerRequest: null });
    expect(bullConnection(parseRedisUrl('rediss://u:p@h:1/3'))).toEqual({ host: 'h', port: 1, db: 3, username: 'u', password: 'p', tls: {}, maxRetriesPerRequest: null });
  });
});

describe('maskRedisSecrets', () => {
  it('masks passwords in URLs and the known password anywhere in a message', () => {
    expect(maskRedisSecrets('connect to redis://u:pw@h:1 failed')).toBe('connect to redis://u:***@h:1 failed');
    expect(maskRedisSecrets('rediss://:pw@h and AUTH pw', { password: 'pw' })).toBe('rediss://:***@h and AUTH ***');
  });
});

describe('passwords with an unencoded "@", "/", "#" or "?"', () => {
  it.each([
    ['redis://:p@ss@host:6379', 'p@ss', 'redis://:***@host:6379'],
    ['redis://imgpipe:p@ss@host:6379/2', 'p@ss', 'redis://imgpipe:***@host:6379/2'],
    ['rediss://:a@b@c@10.0.0.5', 'a@b@c', 'rediss://:***@10.0.0.5:6379'],
    ['redis://us%40er:pw@host', 'pw', 'redis://us%40er:***@host:6379'],
    ['redis://:p:ss@host', 'p:ss', 'redis://:***@host:6379'],
  ])('%s parses as WHATWG URL reads it and displays the password masked whole', (raw, password, display) => {
    const target = parseRedisUrl(raw);
    expect(target.password).toBe(password);
    expect(target.host).toBe(raw.startsWith('rediss') ? '10.0.0.5' : 'host');
    expect(target.display).toBe(display);
  });

  it.each([
    ['redis://:p/ss@host:6379', 'redis://:***@host:6379'],
    ['redis://:p#ss@host:6379', 'redis://:***@host:6379'],
    ['redis://:p?ss@host:6379', 'redis://:***@host:6379'],
    ['redis://:p@ss@', 'redis://:***@'],
    ['redis://u:p@ss@ho st', 'redis://u:***@ho st'],
  ])('an unparsable %s is refused with the password masked whole', (raw, shown) => {
    expect(() => parseRedisUrl(raw)).toThrow(`Expected a Redis URL redis://[user:pass@]host:6379[/db] or rediss://… (TLS) for --redis but received ${JSON.stringify(shown)} of type string`);
  });

  it.each([
    ['redis://:p@ss#w@127.0.0.1:6379'],
    ['redis://:p@ss?w@127.0.0.1:6379'],
    ['redis://:p@ss/w@127.0.0.1:6379'],
  ])('%s would connect to host "ss": refused, masked whole', (raw) => {
    expect(() => parseRedisUrl(raw)).toThrow(
      'Expected a Redis URL with no "?", "#" or "@" after the host (in a password write them %3F, %23, %40, or use --redis-password-file) for --redis but received "redis://:***@127.0.0.1:6379" of type string',
    );
  });

  it('maskRedisUrl keeps the user name and everything after the last "@"', () => {
    expect(maskRedisUrl('redis://:p@ss@host:6379')).toBe('redis://:***@host:6379');
    expect(maskRedisUrl('redis://user:p@s:s@host')).toBe('redis://user:***@host');
    expect(maskRedisUrl('redis://user@host')).toBe('redis://user@host');
    expect(maskRedisUrl('redis://host:6379')).toBe('redis://host:6379');
    expect(maskRedisUrl('not a url @ all:x')).toBe('not a url @ all:x');
  });

  it('maskRedisSecrets masks such URLs in library messages, and the known password as typed or encoded', () => {
    expect(maskRedisSecrets('connect to redis://:p@ss@host:6379 failed')).toBe('connect to redis://:***@host:6379 failed');
    expect(maskRedisSecrets('"redis://u:a@b/c@h:1" and rediss://:x@y@z:2')).toBe('"redis://u:***@h:1" and rediss://:***@z:2');
    const target = parseRedisUrl('redis://:p@ss@host:6379');
    expect(maskRedisSecrets('AUTH p@ss failed (redis://:p%40ss@host:6379)', target)).toBe('AUTH *** failed (redis://:***@host:6379)');
  });
});

describe('job ids and queue names', () => {
  it('job ids are <run_id>.part-NNNNN, free of ":", and map back to their partition for that run only', () => {
    const id = partitionJobId('20261125T101500Z-quality-basic-1-3fa2c1', 42);
    expect(id).toBe('20261125T101500Z-quality-basic-1-3fa2c1.part-00042');
    expect(id).not.toContain(':');
    expect(partitionOfJobId('20261125T101500Z-quality-basic-1-3fa2c1', id)).toBe(42);
    expect(partitionOfJobId('20261125T101500Z-quality-basic-1-3fa2c', id)).toBeNull();
    expect(partitionOfJobId('r', 'r.part-12x')).toBeNull();
    expect(partitionOfJobId('r', 'r.part-123456')).toBe(123456);
  });

  it('queue names become Redis keys: letters, digits, ".", "_", "-" only', () => {
    expect(checkQueueName('gpu-pool_2.a')).toBe('gpu-pool_2.a');
    expect(() => checkQueueName('a:b')).toThrow('Expected a queue name of 1 to 64 letters, digits, ".", "_" or "-" for --queue but received "a:b" of type string');
    expect(() => checkQueueName('')).toThrow('for --queue but received "" of type string');
  });
});
