/**
 * A contender for a table lock in its own process: `lockContenders(file, n)` starts `n` node
 * processes at the same instant, each running the built `TableLock.acquire` (dist/) on `file`,
 * holding it `holdMs`, then releasing it. Each reports what it saw as one JSON line:
 * `{ acquired: true, how, from, to }` (the interval it held the lock, both ends inside the hold) or
 * `{ refused: message }` (a UsageError: another live holder). A node start-up costs ~0.1 s where a
 * full `imgpipe run` costs seconds, so races can be repeated many times.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './cli.js';

export type ContenderResult = { acquired: true; how: string; from: number; to: number } | { refused: string };

const SCRIPT = `
const [file, runId, holdMs, lockUrl, storeUrl] = process.argv.slice(1);
const { TableLock } = await import(lockUrl);
const { LocalTableStore } = await import(storeUrl);
const logs = [];
const log = { info: (o, msg) => logs.push({ ...o, msg }), warn: () => {}, debug: () => {}, error: () => {}, child() { return this; } };
try {
  const lock = await TableLock.acquire(new LocalTableStore(), file, runId, { log });
  const from = Date.now();
  await new Promise((r) => setTimeout(r, Number(holdMs)));
  const to = Date.now();
  await lock.release();
  const how = logs.some((l) => l.msg === 'lock took over') ? 'took over' : 'acquired';
  process.stdout.write(JSON.stringify({ acquired: true, how, from, to }) + '\\n');
} catch (e) {
  if (e?.name !== 'UsageError') throw e;
  process.stdout.write(JSON.stringify({ refused: e.message }) + '\\n');
}
`;

export async function lockContenders(file: string, n: number, holdMs = 20): Promise<ContenderResult[]> {
  const lockUrl = pathToFileURL(path.join(REPO, 'dist', 'src', 'sink', 'TableLock.js')).href;
  const storeUrl = pathToFileURL(path.join(REPO, 'dist', 'src', 'sink', 'LocalTableStore.js')).href;
  const runs = Array.from({ length: n }, (_, i) =>
    new Promise<ContenderResult>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, file, `contender-${i}`, String(holdMs), lockUrl, storeUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as ContenderResult) : reject(new Error(`lock contender exited ${code}: ${err}`))));
    }),
  );
  return Promise.all(runs);
}
