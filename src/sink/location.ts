/**
 * Table locations: a local (or mounted) path, or a `webhdfs://host:port/path` (`swebhdfs://` for
 * HTTPS) URL. Joining and taking parents must keep the URL's `//`, which `path.join` would collapse,
 * so every location-valued path in the sink goes through these helpers. For local paths they are
 * exactly `path.join`/`path.dirname`/`path.resolve`.
 */
import path from 'node:path';
import { invalidParameterError } from '../util/is.js';

const REMOTE = /^(s?webhdfs):\/\/([^/?#]+)(\/[^?#]*)?$/i;

export function isRemoteLocation(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

export interface RemoteLocation {
  scheme: 'webhdfs' | 'swebhdfs';
  /** `host:port` */
  authority: string;
  /** Absolute HDFS path, no trailing slash (except `/`). */
  path: string;
}

/** @throws {UsageError} for a URL that is not webhdfs:// or swebhdfs:// with host:port and a path. */
export function parseRemoteLocation(location: string): RemoteLocation {
  const m = REMOTE.exec(location);
  if (!m || !/^[^:]+:\d+$/.test(m[2]!)) {
    throw invalidParameterError('the table location', 'a local path or webhdfs://HOST:PORT/PATH', location);
  }
  const p = path.posix.normalize(m[3] ?? '/');
  return { scheme: m[1]!.toLowerCase() as RemoteLocation['scheme'], authority: m[2]!, path: p.length > 1 ? p.replace(/\/$/, '') : p };
}

export function formatRemoteLocation(r: RemoteLocation): string {
  return `${r.scheme}://${r.authority}${r.path}`;
}

/** A location made canonical: an absolute local path, or a normalized webhdfs:// URL. */
export function resolveLocation(location: string): string {
  return isRemoteLocation(location) ? formatRemoteLocation(parseRemoteLocation(location)) : path.resolve(location);
}

export function joinLocation(base: string, ...parts: string[]): string {
  if (!isRemoteLocation(base)) return path.join(base, ...parts);
  const r = parseRemoteLocation(base);
  return formatRemoteLocation({ ...r, path: path.posix.join(r.path, ...parts) });
}

export function parentLocation(location: string): string {
  if (!isRemoteLocation(location)) return path.dirname(location);
  const r = parseRemoteLocation(location);
  return formatRemoteLocation({ ...r, path: path.posix.dirname(r.path) });
}

export function baseName(location: string): string {
  return isRemoteLocation(location) ? path.posix.basename(parseRemoteLocation(location).path) : path.basename(location);
}
