/**
 * Disk-full faults for tests and the chaos run: mount a small tmpfs (root only; a container without
 * CAP_SYS_ADMIN answers EPERM, and callers skip with the reason), and fill the filesystem under a
 * folder with one filler file, to the last byte or leaving a few bytes free.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, statfsSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Mount a tmpfs of `size` (e.g. `2m`) at `dir`; returns why not, or null once mounted. */
export function mountTmpfs(dir: string, size: string): string | null {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? null : `cannot mount a tmpfs at ${dir}: ${(r.stderr || r.error?.message || `mount exited ${r.status}`).trim()}`;
}

/** Unmount what `mountTmpfs` mounted (lazily: open files do not block it). Never throws. */
export function unmountTmpfs(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

/**
 * Fill the filesystem holding `dir` with `dir/filler` until `leave` bytes are free (0: to the last
 * byte, whatever the block size); returns the filler's path (remove it to free the space).
 */
export function fillDisk(dir: string, leave = 0): string {
  const file = path.join(dir, 'filler');
  const fd = openSync(file, 'w');
  try {
    if (leave > 0) {
      const { bavail, bsize } = statfsSync(dir);
      const chunk = Buffer.alloc(1 << 16);
      for (let left = bavail * bsize - leave; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
      return file;
    }
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 9, 1]) {
      const chunk = Buffer.alloc(size);
      try {
        for (;;) if (writeSync(fd, chunk) < size) break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
  return file;
}
