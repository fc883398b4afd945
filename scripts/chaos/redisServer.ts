/**
 * A real redis-server for tests and the chaos benchmark: Debian's package (`.ci/run` installs it),
 * on a free loopback port, with a random password, no persistence, in a temporary folder.
 * `startRedis()` returns null (and the caller skips, printing why) when redis-server is not
 * installed. Lives under scripts/ so the built benchmark (`dist/scripts/chaosQueue.js`) can use it;
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

export async function startRedis(): Promise<RedisServer | null> {
  if (redisUnavailable()) return null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'imgpipe-redis-'));
  const password = randomBytes(12).toString('hex');
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
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
    let up = false;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await pingWithAuth(port, password)) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!up) {
      child.kill('SIGKILL');
      await exited;
      if (/Address already in use/.test(output)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start on port ${port}:\n${output}`);
    }
    return {
      port,
      password,
      url: `redis://:${password}@127.0.0.1:${port}`,
      async stop() {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
          if (child.exitCode === null) child.kill('SIGKILL');
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error('redis-server: no free port after 5 tries');
}
