/**
 * The TableStore for a table location: node:fs for a local or mounted path, WebHDFS for
 * `webhdfs://` / `swebhdfs://`. The HDFS user is the run's (`--hdfs-user`), else `$HADOOP_USER_NAME`
 * (Hadoop's own convention), else the OS user.
 */
import os from 'node:os';
import { isRemoteLocation, parseRemoteLocation } from './location.js';
import { LocalTableStore } from './LocalTableStore.js';
import type { TableStore } from './TableStore.js';
import { WebHdfsTableStore } from './WebHdfsTableStore.js';

export function defaultHdfsUser(env: NodeJS.ProcessEnv = process.env): string {
  return env.HADOOP_USER_NAME || os.userInfo().username;
}

/** @throws {UsageError} for a remote location that is not a webhdfs:// or swebhdfs:// URL. */
export function openTableStore(location: string, options: { hdfsUser?: string } = {}): TableStore {
  if (!isRemoteLocation(location)) return new LocalTableStore();
  parseRemoteLocation(location);
  return new WebHdfsTableStore(options.hdfsUser ?? defaultHdfsUser());
}
