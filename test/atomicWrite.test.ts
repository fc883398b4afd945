/**
 * util/atomicWrite: the target is replaced whole or not at all, and no temporary file stays behind.
 * Real files in a temp dir; the failures are real ones (a rename over a folder, a writer that throws).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { atomicTempPath, isAtomicTempOf, replaceFileWith, writeFileAtomic } from '../src/util/atomicWrite.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'imgpipe-atomic-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('replaces the file and leaves only the target in its folder', () => {
    const dir = tempDir();
    const file = path.join(dir, 'run.json');
    writeFileAtomic(file, 'old\n');
    writeFileAtomic(file, 'new\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('new\n');
    expect(fs.readdirSync(dir)).toEqual(['run.json']);
  });

  it('when the rename fails, throws, removes its temp file and leaves the target as it was', () => {
    const dir = tempDir();
    const target = path.join(dir, 'taken');
    fs.mkdirSync(target); // a file cannot be renamed over a folder
    fs.writeFileSync(path.join(target, 'inside'), 'kept');
    expect(() => writeFileAtomic(target, 'x')).toThrow();
    expect(fs.readdirSync(dir)).toEqual(['taken']);
    expect(fs.readFileSync(path.join(target, 'inside'), 'utf8')).toBe('kept');
  });
});

describe('replaceFileWith', () => {
  it('gives the writer a hidden path beside the target, renames it into place, returns its result', async () => {
    const dir = tempDir();
    const target = path.join(dir, 'data.parquet');
    let seen = '';
    const result = await replaceFileWith(target, async (tmp) => {
      seen = tmp;
      fs.writeFileSync(tmp, 'content');
      return 42;
    });
    expect(result).toBe(42);
    expect(path.dirname(seen)).toBe(dir);
    expect(isAtomicTempOf(path.basename(seen), 'data.parquet')).toBe(true);
    expect(path.basename(seen).startsWith('.')).toBe(true);
    expect(fs.readFileSync(target, 'utf8')).toBe('content');
    expect(fs.readdirSync(dir)).toEqual(['data.parquet']);
  });

  it('when the writer fails halfway, rethrows its error, removes the half-written temp file, keeps the target', async () => {
    const dir = tempDir();
    const target = path.join(dir, 'data.parquet');
    fs.writeFileSync(target, 'old');
    await expect(
      replaceFileWith(target, async (tmp) => {
        fs.writeFileSync(tmp, 'half');
        throw new Error('disk said no');
      }),
    ).rejects.toThrow('disk said no');
    expect(fs.readFileSync(target, 'utf8')).toBe('old');
    expect(fs.readdirSync(dir)).toEqual(['data.parquet']);
  });
});

describe('atomicTempPath', () => {
  it('is unique per call and recognised as a temp file of its target only', () => {
    const a = atomicTempPath('/x/data.parquet');
    const b = atomicTempPath('/x/data.parquet');
    expect(a).not.toBe(b);
    expect(isAtomicTempOf(path.basename(a), 'data.parquet')).toBe(true);
    expect(isAtomicTempOf(path.basename(a), 'run.json')).toBe(false);
    expect(isAtomicTempOf('data.parquet', 'data.parquet')).toBe(false);
    expect(path.basename(a)).not.toMatch(/\.parquet$/); // a reader's *.parquet glob never sees it
  });
});
