/**
 * The filesystem under a table location, as the commit protocol needs it: a local (or mounted)
 * folder through node:fs (`LocalTableStore`), or HDFS through the WebHDFS/HttpFS REST API
 * (`WebHdfsTableStore`). Locations are absolute paths or `webhdfs://host:port/path` URLs (location.ts).
 *
 * Semantics are the local filesystem's, which the Committer was written against: `rename` is atomic
 * (on HDFS too: a NameNode rename is one metadata operation), its destination must not exist except
 * as a file, which is replaced; folders are created with their parents. Every method may be called
 * from the driver or a worker; none keeps state between calls.
 *
 * Failures throw an Error naming the operation and the location(s), with the filesystem's reason.
 */
export type EntryKind = 'file' | 'dir';

export interface TableStore {
  /** Create a folder and its missing parents. Idempotent. */
  mkdirs(location: string): Promise<void>;
  /** What is at the location, or null when nothing is. */
  stat(location: string): Promise<EntryKind | null>;
  exists(location: string): Promise<boolean>;
  /**
   * Move a file or folder. `to`'s parent must exist; `to` must not exist, except as a file, which is
   * replaced. If this throws, nothing moved.
   */
  rename(from: string, to: string): Promise<void>;
  /** Remove a file, or a folder with everything in it. Nothing there is fine. */
  remove(location: string): Promise<void>;
  /** Remove a folder if it is empty. Returns whether it was removed; never throws for a non-empty or missing folder. */
  removeEmptyDir(location: string): Promise<boolean>;
  /** Create or replace a small file (summaries, markers). */
  writeFile(location: string, data: string | Uint8Array): Promise<void>;
  /** A file's content, or null when there is no file. */
  readFile(location: string): Promise<Buffer | null>;
  /** Copy a local file to the location (created or replaced), streaming. */
  upload(localFile: string, location: string): Promise<void>;
  /** Names in a folder (not paths), sorted; empty when the folder does not exist. */
  list(location: string): Promise<string[]>;
}
