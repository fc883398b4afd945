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
  /**
   * Create or replace a small file (summaries, markers, lock heartbeats). A reader sees the old
   * content or the new, never a truncated file (local: temp file + rename; HDFS: CREATE overwrite).
   */
  writeFile(location: string, data: string | Uint8Array): Promise<void>;
  /**
   * Create a file only if nothing is there, atomically, with its whole content: returns true if this
   * call created it, false if the location already existed (another writer won). Locally the content
   * is written to a temp file that is then `link()`ed into place, so the file is never seen empty;
   * on HDFS it is `CREATE overwrite=false` (the NameNode refuses an existing path; a reader that opens
   * the file while its one block is being written may see it empty, so callers treat an unreadable
   * file as held, not as free). The building block of the table and warehouse locks.
   * If this throws, the file may or may not exist; nothing else changed.
   */
  createExclusive(location: string, data: string | Uint8Array): Promise<boolean>;
  /** A file's size in bytes, or null when there is no file. */
  fileSize(location: string): Promise<number | null>;
  /**
   * Whether the store has symbolic links (local: yes; HDFS through WebHDFS: no). The table layout
   * publishes snapshots through a link where there is one (TableLayout).
   */
  readonly supportsLinks: boolean;
  /** The target of a symbolic link as stored (relative or absolute), or null when the location is not a link. */
  readLink(location: string): Promise<string | null>;
  /**
   * Point `location` at `target` atomically: a new link under a temp name, renamed over the old
   * link (a reader sees the old target or the new one, never no entry). `location` must be a link
   * or absent. If this throws, the old link is unchanged.
   * @throws {Error} on a store without links.
   */
  replaceLink(location: string, target: string): Promise<void>;
  /** A file's content, or null when there is no file. */
  readFile(location: string): Promise<Buffer | null>;
  /** Copy a local file to the location (created or replaced), streaming. */
  upload(localFile: string, location: string): Promise<void>;
  /** Names in a folder (not paths), sorted; empty when the folder does not exist. */
  list(location: string): Promise<string[]>;
}
