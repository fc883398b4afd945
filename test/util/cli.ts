/**
 * Test helpers: run the CLI as a user would — spawned from the build (`dist/`, built by `npm test`
 * before vitest: `imgpipe`, `imgpipeCollect`, `imgpipeHeld`) or in this process through
 * `main` (`imgpipeInProcess`: no node start-up, for flag and error checks) — and read Parquet back
 * with DuckDB, an independent reader.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { inject } from 'vitest';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(REPO, 'dist', 'src', 'cli', 'bin.js');
export const SHARED = path.resolve(REPO, '..', 'shared');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function imgpipe(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, encoding: 'utf8', timeout: 600_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(prefix = 'imgpipe-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Run a query in a fresh in-memory DuckDB and return row objects (JS values). */
export async function query(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    connection.disconnectSync();
    instance.closeSync();
  }
}

/** SQL text of a string literal for test queries. */
export const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** A loopback port nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Run the CLI without blocking this process (servers the test runs in-process keep answering), and
 * collect its output and exit code; `ms` is the wall time.
 */
export function imgpipeCollect(args: string[], env: Record<string, string> = {}): Promise<CliResult & { ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
  });
}

/** Poll `probe` every 50 ms until it gives a value (not null/undefined); fail naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | null | undefined | Promise<T | null | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let inProcessQueue: Promise<unknown> = Promise.resolve();

/**
 * Run the CLI's `main` (src/cli/program.ts) in this process with `args`, capturing what it writes
 * to process.stdout/stderr, with `env` set and `cwd` as the working directory for the call. Calls
 * are serialized (the capture is process-wide). Same result shape as `imgpipe`; the pino log (fd 2
 * directly) is not captured. For checks that end before any heavy work: bad flags, bad cards,
 * help, listings; a full run belongs in a spawned process (signals, exit, native handles).
 */
export function imgpipeInProcess(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult & { ms: number }> {
  const run = inProcessQueue.then(() => runInProcess(args, options));
  inProcessQueue = run.catch(() => undefined);
  return run;
}

async function runInProcess(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> }): Promise<CliResult & { ms: number }> {
  const { main } = await import('../../src/cli/program.js');
  let stdout = '';
  let stderr = '';
  const writeOut = process.stdout.write;
  const writeErr = process.stderr.write;
  const savedEnv = new Map<string, string | undefined>();
  const savedCwd = process.cwd();
  const capture = (append: (s: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof process.stdout.write;
  for (const [k, v] of Object.entries(options.env ?? {})) {
    savedEnv.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  process.stdout.write = capture((s) => (stdout += s));
  process.stderr.write = capture((s) => (stderr += s));
  try {
    if (options.cwd) process.chdir(options.cwd);
    const started = Date.now();
    const code = await main(['node', 'imgpipe', ...args]);
    return { code, stdout, stderr, ms: Date.now() - started };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
    process.exitCode = undefined;
    process.chdir(savedCwd);
    for (const [k, v] of savedEnv) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * Start `imgpipe run ARGS` with `IMGPIPE_FAULT_HOLD_AFTER_DONE=partitions` (src/sink/faultHook.ts):
 * it commits that many partitions, then holds every later one until killed. Resolves once it says it
 * holds, so the caller acts on a run that is provably mid-way (its lock held, `partitions` done, the
 * rest not) however fast the machine; rejects if it ends before.
 */
export async function imgpipeHeld(args: string[], partitions: number, timeoutMs = 240_000): Promise<{ child: ChildProcess; stderr: () => string; closed: Promise<void> }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, IMGPIPE_FAULT_HOLD_AFTER_DONE: String(partitions) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  try {
    await waitFor(`the run to hold after ${partitions} committed partitions`, () => {
      if (stderr.includes(`IMGPIPE_FAULT_HOLD_AFTER_DONE=${partitions}: holding`)) return true;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the run ended (exit ${child.exitCode ?? child.signalCode}) before it held:\n${stderr}`);
      return null;
    }, timeoutMs);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { child, stderr: () => stderr, closed };
}

/**
 * Put a demo warehouse at `wh` (which must not exist yet): a copy of the one the global setup built
 * with `imgpipe warehouse init --demo` (test/util/demoWarehouseSetup.ts). Nothing in a fresh demo
 * warehouse names its own folder, so the copy is the warehouse `init --demo` would make there.
 */
export function copyDemoWarehouse(wh: string): void {
  if (existsSync(wh)) throw new Error(`copyDemoWarehouse: ${wh} exists`);
  cpSync(inject('demoWarehouse'), wh, { recursive: true });
}
