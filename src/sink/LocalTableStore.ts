/**
 * TableStore on a local or mounted filesystem: node:fs, with exactly the calls the commit protocol
 * made before stores existed (rename is `fs.rename`, removal is `rm -rf`, which removes a symlink,
 * never its target), plus the exclusive create (temp + `link`) and atomic link swaps the lock and the
 * snapshot pointers need.
 */
import { copyFile, link, lstat, mkdir, readdir, readFile, readlink, rename, rm, rmdir, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { atomicTempPath, replaceFileWith } from '../util/atomicWrite.js';
import type { EntryKind, TableStore } from './TableStore.js';

export class LocalTableStore implements TableStore {
  readonly supportsLinks = true;

  async mkdirs(location: string): Promise<void> {
    await mkdir(location, { recursive: true });
  }

  async stat(location: string): Promise<EntryKind | null> {
    try {
      return (await stat(location)).isDirectory() ? 'dir' : 'file';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async exists(location: string): Promise<boolean> {
    return (await this.stat(location)) !== null;
  }

  async rename(from: string, to: string): Promise<void> {
    await rename(from, to);
  }

  async remove(location: string): Promise<void> {
    await rm(location, { recursive: true, force: true });
  }

  async removeEmptyDir(location: string): Promise<boolean> {
    try {
      await rmdir(location);
      return true;
    } catch {
      return false;
    }
  }

  async writeFile(location: string, data: string | Uint8Array): Promise<void> {
    await replaceFileWith(location, (tmp) => writeFile(tmp, data));
  }

  async createExclusive(location: string, data: string | Uint8Array): Promise<boolean> {
    const tmp = tempName(location);
    try {
      await writeFile(tmp, data);
      await link(tmp, location);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async fileSize(location: string): Promise<number | null> {
    try {
      const s = await stat(location);
      return s.isFile() ? s.size : null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async readLink(location: string): Promise<string | null> {
    try {
      if (!(await lstat(location)).isSymbolicLink()) return null;
      return await readlink(location);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async replaceLink(location: string, target: string): Promise<void> {
    const tmp = tempName(location);
    await symlink(target, tmp);
    try {
      await rename(tmp, location);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  async readFile(location: string): Promise<Buffer | null> {
    try {
      return await readFile(location);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async upload(localFile: string, location: string): Promise<void> {
    await copyFile(localFile, location);
  }

  async list(location: string): Promise<string[]> {
    try {
      return (await readdir(location)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw e;
    }
  }
}

/** A hidden sibling name (`.`-prefixed, so no reader's `*.parquet` or `snapshot=*` glob matches it). */
const tempName = atomicTempPath;
