/**
 * util/pidLock: one holder per lock file on this host. Holders are real processes: a live child
 * blocks the lock, the same child killed leaves a stale lock that is taken over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PidLock, processIsDead } from '../src/util/pidLock.js';
import { UsageError } from '../src/util/errors.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
function lockPath(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'imgpipe-pidlock-'));
  dirs.push(d);
  return path.join(d, '.lock');
}
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A live process that does nothing until killed. */
function idleChild(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  return child;
}
const exited = (child: ChildProcess): Promise<void> => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

describe('PidLock', () => {
  it('writes its holder, refuses a second acquire in the same process, and release removes it', () => {
    const file = lockPath();
    const lock = PidLock.acquire(file, 'thing A');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ pid: process.pid, host: os.hostname() });
    expect(() => PidLock.acquire(file, 'thing A')).toThrow(UsageError);
    expect(() => PidLock.acquire(file, 'thing A')).toThrow(`thing A is already locked by this process (lock ${file})`);
    lock.release();
    lock.release(); // idempotent
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.readdirSync(path.dirname(file))).toEqual([]); // no temp file left
  });

  it('refuses a lock held by a live process, and takes it over once that process is dead', async () => {
    const file = lockPath();
    const child = idleChild();
    fs.writeFileSync(file, JSON.stringify({ pid: child.pid, host: os.hostname() }) + '\n');
    expect(() => PidLock.acquire(file, 'thing B')).toThrow(`thing B is locked by process ${child.pid} (lock ${file})`);
    child.kill('SIGKILL');
    await exited(child);
    expect(processIsDead(child.pid!)).toBe(true);
    const lock = PidLock.acquire(file, 'thing B');
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('reads a bare pid (earlier versions) as a holder on this host', () => {
    const file = lockPath();
    const child = idleChild();
    fs.writeFileSync(file, `${child.pid}\n`);
    expect(() => PidLock.acquire(file, 'thing C')).toThrow(`locked by process ${child.pid}`);
  });

  it('refuses a lock held on another host, whose process it cannot check', () => {
    const file = lockPath();
    fs.writeFileSync(file, JSON.stringify({ pid: 1, host: `not-${os.hostname()}` }) + '\n');
    expect(() => PidLock.acquire(file, 'thing D')).toThrow(`thing D is locked by process 1 on not-${os.hostname()} (lock ${file}); if that process is gone, remove ${file}`);
  });

  it('release leaves a lock that no longer names this holder', () => {
    const file = lockPath();
    const lock = PidLock.acquire(file, 'thing E');
    const other = JSON.stringify({ pid: 1, host: 'elsewhere' }) + '\n';
    fs.writeFileSync(file, other); // removed by hand and taken by someone else
    lock.release();
    expect(fs.readFileSync(file, 'utf8')).toBe(other);
  });
});
