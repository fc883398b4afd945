/**
 * Test helpers for `imgpipe pipe`: spawn it, feed stdin with backpressure, collect stdout as bytes,
 * watch its peak RSS (VmHWM in /proc/<pid>/status), and build Arrow IPC streams batch by batch
 * without holding the whole input.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { RecordBatch, RecordBatchReader, Table, tableToIPC, type TypeMap } from 'apache-arrow';
import { CLI } from './cli.js';

export interface PipeResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** Peak resident set of the process in bytes (its last VmHWM read). */
  peakRss: number;
}

/** VmHWM of a live process, in bytes; 0 when it is gone. */
export function peakRssOf(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface SpawnPipeOptions {
  cwd?: string;
  env?: Record<string, string>;
  /**
   * Called with the child right after it starts, and with each stdout chunk; may kill it. Feeding is
   * the caller's (`feed`), so the test decides when stdin ends.
   */
  onStdout?: (child: ChildProcessWithoutNullStreams, chunk: Buffer, total: number) => void;
}

export function spawnPipe(args: string[], options: SpawnPipeOptions = {}): { child: ChildProcessWithoutNullStreams; done: Promise<PipeResult> } {
  const child = spawn(process.execPath, [CLI, 'pipe', ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let total = 0;
  let stderr = '';
  let peakRss = 0;
  const poll = setInterval(() => (peakRss = Math.max(peakRss, peakRssOf(child.pid!))), 100);
  child.stdout.on('data', (d: Buffer) => {
    out.push(d);
    total += d.length;
    options.onStdout?.(child, d, total);
  });
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.on('error', () => {}); // EPIPE when the child exits early (a usage error, a kill)
  const done = new Promise<PipeResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr, peakRss });
    });
  });
  return { child, done };
}

/** Write chunks to the child's stdin, waiting for 'drain'; `end` closes it afterwards. */
export async function feed(child: ChildProcessWithoutNullStreams, chunks: Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string>, end = true): Promise<void> {
  try {
    for await (const c of chunks) {
      if (!child.stdin.write(c)) await Promise.race([once(child.stdin, 'drain'), once(child, 'close')]);
      if (child.exitCode !== null || child.signalCode !== null) return;
    }
  } finally {
    if (end) child.stdin.end();
  }
}

/**
 * An Arrow IPC stream, one batch at a time: the schema message once, then each batch's message,
 * then the end-of-stream marker. Each batch is serialized alone (`tableToIPC`) and its schema
 * message and end marker cut off, so a caller can generate batches lazily.
 */
export function* arrowStreamChunks<T extends TypeMap>(batches: Iterable<RecordBatch<T>>): Generator<Uint8Array> {
  let first = true;
  for (const batch of batches) {
    const ipc = tableToIPC(new Table([batch]), 'stream');
    const view = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength);
    // Encapsulated message: 0xFFFFFFFF, int32 metadata length, metadata (a schema has no body).
    const schemaLength = 8 + view.getInt32(4, true);
    yield first ? ipc.subarray(0, ipc.length - 8) : ipc.subarray(schemaLength, ipc.length - 8);
    first = false;
  }
  yield new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
}

/** Read a whole Arrow IPC stream back with apache-arrow's RecordBatchReader. */
export function readArrowStream(bytes: Uint8Array): { schema: RecordBatchReader['schema']; batches: RecordBatch[] } {
  const reader = RecordBatchReader.from(bytes).open();
  const schema = reader.schema;
  const batches = reader.readAll();
  return { schema, batches };
}

/** True when the bytes end with the Arrow stream's end-of-stream marker. */
export function endsWithEos(bytes: Uint8Array): boolean {
  const tail = bytes.subarray(bytes.length - 8);
  return bytes.length >= 8 && tail.every((b, i) => b === (i < 4 ? 0xff : 0));
}
