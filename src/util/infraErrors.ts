/**
 * Infrastructure errors are not image errors. A full disk, an I/O error, a read-only or over-quota
 * filesystem, or a lost connection to the byte source or the table store says nothing about the
 * partition's images: it fails the attempt (retried), then the run (exit 1, resumable with
 * `--resume`); it never becomes rows, and nothing is committed.
 *
 * Classification, by `code` first, then by message (an error that crossed a process boundary, e.g.
 * a BullMQ `failedReason`, or a library that wraps the errno in its own text), walking `cause`
 * chains and AggregateErrors to the root cause.
 *
 * A short write is the one root cause a reader cannot see: parquet-wasm ignores how many bytes the
 * file took, so a full disk shows up as "Corrupt footer" or "holds N rows, expected M".
 * `diagnoseWriteFailure` therefore asks the filesystem of the file being written (statfs) while the
 * partial file is still there, and reports ENOSPC when it is full.
 */
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './errors.js';

/** Errno codes of a storage or network that failed, with the words a user sees. */
const CODES: Record<string, string> = {
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EIO: 'Input/output error',
  EROFS: 'Read-only file system',
  ENFILE: 'Too many open files in system',
  EMFILE: 'Too many open files',
  ECONNRESET: 'Connection reset',
  ECONNREFUSED: 'Connection refused',
  ECONNABORTED: 'Connection aborted',
  ETIMEDOUT: 'Connection timed out',
  EPIPE: 'Broken pipe',
  ENOTCONN: 'Not connected',
  EHOSTUNREACH: 'Host unreachable',
  ENETUNREACH: 'Network unreachable',
  ENETDOWN: 'Network down',
  EAI_AGAIN: 'Name resolution failed (temporary)',
  UND_ERR_SOCKET: 'Connection lost',
  UND_ERR_CONNECT_TIMEOUT: 'Connection timed out',
};

/** The same causes as they appear in text (strerror wording, DuckDB, a BullMQ failedReason). */
const MESSAGE_PATTERNS: [RegExp, string][] = [
  // The byte source as a whole (first, so it is named as such whatever its requests died of):
  // `withFaultDiagnosis` and HttpByteSource, which throws this when most of a chunk's requests fail.
  [/\(EBYTESOURCE\)|HTTP byte source: \d+ of \d+ requests failed/, 'EBYTESOURCE'],
  [/\bENOSPC\b|no space left on device/i, 'ENOSPC'],
  [/\bEDQUOT\b|disk quota exceeded/i, 'EDQUOT'],
  [/\bEROFS\b|read-only file system/i, 'EROFS'],
  [/\bEIO\b|input\/output error/i, 'EIO'],
  [/\bE[MN]FILE\b|too many open files/i, 'EMFILE'],
  [/\bECONNRESET\b|connection reset|socket hang up/i, 'ECONNRESET'],
  [/\bECONNREFUSED\b|connection refused/i, 'ECONNREFUSED'],
  [/\b(ETIMEDOUT|ECONNABORTED|EPIPE|ENOTCONN|EHOSTUNREACH|ENETUNREACH|ENETDOWN|EAI_AGAIN|UND_ERR_SOCKET|UND_ERR_CONNECT_TIMEOUT)\b/, ''],
];

/**
 * A filesystem that just failed a write counts as full under this many free bytes: 1% of it, at
 * most 1 MiB, at least two blocks (a short write leaves less than one block).
 */
function fullBelowBytes(fs: { bsize: number; blocks: number }): number {
  return Math.max(2 * fs.bsize, Math.min(1024 * 1024, (fs.blocks * fs.bsize) / 100));
}

/**
 * An attempt, or the run, failed because the infrastructure did: retried, then the run fails
 * (exit 1) and is resumable. `message` says what ran out and where: "No space left on device
 * (ENOSPC) writing /t/_staging/…/part-00003.parquet".
 */
export class InfrastructureError extends Error {
  override readonly name = 'InfrastructureError';
  constructor(
    /** The errno-style code: ENOSPC, EIO, ECONNRESET, … (EBYTESOURCE: the byte source as a whole). */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The infrastructure code of `e` (or of anything in its cause chain), or null for any other error. */
export function infrastructureCode(e: unknown, depth = 0): string | null {
  if (e === null || e === undefined || depth > 8) return null;
  if (e instanceof InfrastructureError) return e.code;
  if (typeof e === 'object') {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code in CODES) return code;
    if (e instanceof AggregateError) {
      for (const inner of e.errors) {
        const c = infrastructureCode(inner, depth + 1);
        if (c) return c;
      }
    }
    const cause = infrastructureCode((e as { cause?: unknown }).cause, depth + 1);
    if (cause) return cause;
  }
  const text = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
  for (const [pattern, code] of MESSAGE_PATTERNS) {
    const m = pattern.exec(text);
    if (m) return code || m[1]!;
  }
  return null;
}

/**
 * `e` as an InfrastructureError naming what ran out and where (`where`, or the errno's own path),
 * or null when `e` is not an infrastructure error. An InfrastructureError is returned as it is; a
 * UsageError never is one (it keeps its exit 2: "Cannot reach Redis at …" before any work started).
 */
export function asInfrastructureError(e: unknown, where?: string): InfrastructureError | null {
  if (e instanceof InfrastructureError) return e;
  if (e instanceof UsageError) return null;
  const code = infrastructureCode(e);
  if (!code) return null;
  const errPath = findPath(e);
  const target = where ?? errPath;
  const words = CODES[code] ?? (code === 'EBYTESOURCE' ? 'The byte source failed' : code);
  const detail = (e as Error)?.message ?? String(e);
  const head = `${words} (${code})${target ? ` ${where ? 'writing' : 'at'} ${target}` : ''}`;
  return new InfrastructureError(code, detail.startsWith(words) ? detail : `${head}: ${detail}`, { cause: e });
}

/**
 * Classify a failure to write `file` (a local path). Infrastructure by code or message as above;
 * otherwise, if the filesystem holding `file` is full (under 1% or 1 MiB free), a short write is the root cause
 * whatever the Parquet layer said: ENOSPC. Call it before the partial file is removed. Any other
 * error comes back unchanged. Never throws.
 */
export async function diagnoseWriteFailure(e: unknown, file: string): Promise<unknown> {
  const known = asInfrastructureError(e, file);
  if (known) return known;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) return e; // remote (webhdfs://): no statfs
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    try {
      const fs = await statfs(dir);
      if (fs.bavail * fs.bsize < fullBelowBytes(fs)) {
        // The writer's own message ("Corrupt footer" after a short write) is a symptom: keep it as the cause only.
        return new InfrastructureError('ENOSPC', `No space left on device (ENOSPC) writing ${file} (the filesystem is full; the writer failed with a short write)`, { cause: e });
      }
      return e;
    } catch {
      if (path.dirname(dir) === dir) return e;
    }
  }
}

/** The `path` an errno error names, if any (Node sets it on fs errors). */
function findPath(e: unknown, depth = 0): string | undefined {
  if (!e || typeof e !== 'object' || depth > 8) return undefined;
  const p = (e as { path?: unknown }).path;
  if (typeof p === 'string') return p;
  return findPath((e as { cause?: unknown }).cause, depth + 1);
}
