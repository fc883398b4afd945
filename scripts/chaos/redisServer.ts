/**
 * A real redis-server for tests and the chaos benchmark: Debian's package (`.ci/run` installs it),
 * on a free loopback port, with a random password, no persistence, in a temporary folder.
 * `startRedis()` returns null (and the caller skips, printing why) when redis-server is not
 * installed. `crash()` and `restart()` (same port, same password, empty) are the Redis faults of
 * test/execFaults.test.ts and the chaos run. Lives under scripts/ so the built benchmark (`dist/scripts/chaosQueue.js`) can use it;
 * tests import it through `test/util/redisServer.ts`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisServer {
  port: number;
  password: string;
  /** redis://:<password>@127.0.0.1:<port> */
  url: string;
  /** SIGKILL the server (no persistence: every key is gone). Harmless when already down. */
  crash(): Promise<void>;
  /** Start it again, empty, on the same port with the same password (crashing it first if up). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';

/** Why Redis tests cannot run here, or null when they can. */
export function redisUnavailable(): string | null {
  const r = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? null : `${REDIS_SERVER} is not installed (apt-get install redis-server; .ci/run does it)`;
}

/** A loopback port nobody listens on (right now). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function pingWithAuth(port: number, password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
    socket.on('connect', () => socket.write(`AUTH ${password}\r\nPING\r\n`));
    socket.on('data', (d) => {
      answer += d.toString();
      if (answer.includes('+PONG')) {
        socket.destroy();
        resolve(true);
      }
    });
  });
}

/** Start redis-server on `port` with `password`; resolves once it answers PING, or throws with its output. */
async function spawnRedis(port: number, password: string, dir: string): Promise<{ child: ChildProcess; exited: Promise<void>; output: () => string } | { inUse: true }> {
  const child: ChildProcess = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await pingWithAuth(port, password)) return { child, exited, output: () => output };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await exited;
  if (/Address already in use/.test(output)) return { inUse: true };
  throw new Error(`redis-server did not start on port ${port}:\n${output}`);
}

export async function startRedis(): Promise<RedisServer | null> {
  if (redisUnavailable()) return null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'imgpipe-redis-'));
  const password = randomBytes(12).toString('hex');
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    let started;
    try {
      started = await spawnRedis(port, password, dir);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    if ('inUse' in started) continue;
    let current = started;
    let up = true;
    const crash = async () => {
      if (!up) return;
      up = false;
      current.child.kill('SIGKILL');
      await current.exited;
    };
    return {
      port,
      password,
      url: `redis://:${password}@127.0.0.1:${port}`,
      crash,
      async restart() {
        await crash();
        // The port was ours a moment ago; a client may not take it (loopback, no listener) — retry briefly.
        for (let i = 0; i < 20; i++) {
          const again = await spawnRedis(port, password, dir);
          if (!('inUse' in again)) {
            current = again;
            up = true;
            return;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
        throw new Error(`redis-server: port ${port} stayed in use after a crash`);
      },
      async stop() {
        if (up && current.child.exitCode === null) {
          current.child.kill('SIGTERM');
          await Promise.race([current.exited, new Promise((r) => setTimeout(r, 5000))]);
          if (current.child.exitCode === null) current.child.kill('SIGKILL');
        }
        up = false;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error('redis-server: no free port after 5 tries');
}
