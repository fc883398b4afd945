/**
 * TableStore on a local or mounted filesystem: node:fs, with exactly the calls the commit protocol
 * made before stores existed (rename is `fs.rename`, removal is `rm -rf`).
 */
import { copyFile, mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import type { EntryKind, TableStore } from './TableStore.js';

export class LocalTableStore implements TableStore {
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
    await writeFile(location, data);
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
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }
}
