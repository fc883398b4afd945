/**
 * TableStore on HDFS through the WebHDFS REST API (Hadoop 3 NameNode, `/webhdfs/v1`) or HttpFS
 * (the same API on a gateway): GETFILESTATUS, MKDIRS, CREATE (the NameNode answers 307 with a DataNode
 * URL, the data goes there), OPEN, RENAME, DELETE, LISTSTATUS. Locations are
 * `webhdfs://host:port/path` (HTTP) or `swebhdfs://host:port/path` (HTTPS).
 *
 * Authentication is Hadoop's simple mode: `user.name=<user>` on every request. Kerberos (SPNEGO)
 * and delegation tokens are not implemented.
 *
 * Rename keeps the local semantics the commit protocol relies on: HDFS's RENAME moves a folder *into*
 * an existing folder and refuses to replace a file, so the destination is checked first (a folder
 * there is an error; a file there is deleted, then the rename runs). A `false` from RENAME (source
 * missing, parent missing) is an error.
 */
import { createReadStream } from 'node:fs';
import { stat as statLocal } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parseRemoteLocation } from './location.js';
import type { EntryKind, TableStore } from './TableStore.js';

export interface WebHdfsOptions {
  /** Per request (metadata, small files). @defaultValue 60000 */
  timeoutMs?: number;
  /** Per file upload. @defaultValue 600000 */
  uploadTimeoutMs?: number;
}

interface RemoteException {
  exception?: string;
  message?: string;
}

export class WebHdfsError extends Error {
  override readonly name = 'WebHdfsError';
  constructor(
    message: string,
    readonly status: number | null,
    readonly exception: string | null,
  ) {
    super(message);
  }
}

export class WebHdfsTableStore implements TableStore {
  /** HDFS has no symbolic links through WebHDFS: snapshots are published by rename (TableLayout). */
  readonly supportsLinks = false;
  constructor(
    /** The HDFS user the requests act as (`user.name`). */
    readonly user: string,
    private readonly options: WebHdfsOptions = {},
  ) {}

  async mkdirs(location: string): Promise<void> {
    const r = await this.json('PUT', location, 'MKDIRS');
    if ((r as { boolean?: boolean }).boolean !== true) throw new WebHdfsError(`WebHDFS MKDIRS ${location} returned false`, 200, null);
  }

  async stat(location: string): Promise<EntryKind | null> {
    const response = await this.request('GET', location, 'GETFILESTATUS');
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    const body = (await (await this.ok(response, 'GETFILESTATUS', location)).json()) as { FileStatus: { type: string } };
    return body.FileStatus.type === 'DIRECTORY' ? 'dir' : 'file';
  }

  async exists(location: string): Promise<boolean> {
    return (await this.stat(location)) !== null;
  }

  async rename(from: string, to: string): Promise<void> {
    const source = parseRemoteLocation(from);
    const target = parseRemoteLocation(to);
    if (source.authority !== target.authority) throw new WebHdfsError(`Cannot rename ${from} to ${to}: different filesystems`, null, null);
    const existing = await this.stat(to);
    if (existing === 'dir') throw new WebHdfsError(`Cannot rename ${from} to ${to}: the destination exists`, null, 'FileAlreadyExistsException');
    if (existing === 'file') await this.remove(to);
    const r = await this.json('PUT', from, 'RENAME', { destination: target.path });
    if ((r as { boolean?: boolean }).boolean !== true) {
      throw new WebHdfsError(`WebHDFS RENAME ${from} to ${to} returned false (the source or the destination's parent folder is missing)`, 200, null);
    }
  }

  async remove(location: string): Promise<void> {
    await this.json('DELETE', location, 'DELETE', { recursive: 'true' });
  }

  async removeEmptyDir(location: string): Promise<boolean> {
    try {
      const r = await this.json('DELETE', location, 'DELETE', { recursive: 'false' });
      return (r as { boolean?: boolean }).boolean === true;
    } catch (e) {
      // A non-empty folder: HDFS refuses (PathIsNotEmptyDirectoryException, or an IOException).
      if (e instanceof WebHdfsError && e.status !== null && e.status >= 400 && e.status < 500) return false;
      throw e;
    }
  }

  async writeFile(location: string, data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    await this.create(location, () => bytes, bytes.length, this.options.timeoutMs ?? 60_000);
  }

  /** CREATE with overwrite=false: the NameNode refuses an existing path (FileAlreadyExistsException). */
  async createExclusive(location: string, data: string | Uint8Array): Promise<boolean> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    try {
      await this.create(location, () => bytes, bytes.length, this.options.timeoutMs ?? 60_000, false);
      return true;
    } catch (e) {
      if (e instanceof WebHdfsError && e.exception === 'FileAlreadyExistsException') return false;
      throw e;
    }
  }

  async fileSize(location: string): Promise<number | null> {
    const response = await this.request('GET', location, 'GETFILESTATUS');
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    const body = (await (await this.ok(response, 'GETFILESTATUS', location)).json()) as { FileStatus: { type: string; length: number } };
    return body.FileStatus.type === 'DIRECTORY' ? null : body.FileStatus.length;
  }

  async readLink(): Promise<string | null> {
    return null;
  }

  async replaceLink(location: string): Promise<void> {
    throw new WebHdfsError(`Cannot make ${location} a link: WebHDFS has no symbolic links`, null, null);
  }

  async readFile(location: string): Promise<Buffer | null> {
    // OPEN answers 307 to a DataNode; fetch follows it.
    const response = await this.request('GET', location, 'OPEN', {}, 'follow');
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    return Buffer.from(await (await this.ok(response, 'OPEN', location)).arrayBuffer());
  }

  async upload(localFile: string, location: string): Promise<void> {
    const size = (await statLocal(localFile)).size;
    await this.create(location, () => Readable.toWeb(createReadStream(localFile)) as ReadableStream<Uint8Array>, size, this.options.uploadTimeoutMs ?? 600_000);
  }

  async list(location: string): Promise<string[]> {
    const response = await this.request('GET', location, 'LISTSTATUS');
    if (response.status === 404) {
      await response.body?.cancel();
      return [];
    }
    const body = (await (await this.ok(response, 'LISTSTATUS', location)).json()) as { FileStatuses: { FileStatus: { pathSuffix: string }[] } };
    return body.FileStatuses.FileStatus.map((s) => s.pathSuffix).sort();
  }

  /**
   * CREATE in two steps, as WebHDFS wants: the NameNode (or HttpFS) answers the first PUT, which
   * carries no data, with 307 and a Location; the data goes to that Location (201 Created).
   */
  private async create(location: string, body: () => Uint8Array | ReadableStream<Uint8Array>, size: number, timeoutMs: number, overwrite = true): Promise<void> {
    const first = await this.request('PUT', location, 'CREATE', { overwrite: String(overwrite) });
    if (first.status !== 307 || !first.headers.get('location')) {
      if (!first.ok) await this.raise(first, 'CREATE', location);
      await first.body?.cancel();
      throw new WebHdfsError(`WebHDFS CREATE ${location}: expected a 307 redirect to a DataNode but received HTTP ${first.status}`, first.status, null);
    }
    await first.body?.cancel();
    const target = new URL(first.headers.get('location')!, this.baseUrl(location));
    let second: Response;
    try {
      second = await fetch(target, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
        body: body(),
        duplex: 'half',
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      } as RequestInit);
    } catch (e) {
      throw this.networkError(e, 'CREATE (data)', location, target.host);
    }
    if (second.status !== 201 && second.status !== 200) await this.raise(second, 'CREATE (data)', location);
    await second.body?.cancel();
  }

  private baseUrl(location: string): string {
    const r = parseRemoteLocation(location);
    return `${r.scheme === 'swebhdfs' ? 'https' : 'http'}://${r.authority}`;
  }

  private url(location: string, op: string, params: Record<string, string>): string {
    const r = parseRemoteLocation(location);
    const encodedPath = r.path.split('/').map(encodeURIComponent).join('/');
    const query = new URLSearchParams({ op, 'user.name': this.user, ...params });
    return `${this.baseUrl(location)}/webhdfs/v1${encodedPath}?${query}`;
  }

  private async request(method: string, location: string, op: string, params: Record<string, string> = {}, redirect: RequestRedirect = 'manual'): Promise<Response> {
    const url = this.url(location, op, params);
    try {
      return await fetch(url, { method, redirect, signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000) });
    } catch (e) {
      throw this.networkError(e, op, location, new URL(url).host);
    }
  }

  private async json(method: string, location: string, op: string, params: Record<string, string> = {}): Promise<unknown> {
    const response = await this.request(method, location, op, params);
    return (await this.ok(response, op, location)).json();
  }

  /** The response if 2xx; otherwise throws the server's RemoteException as a WebHdfsError. */
  private async ok(response: Response, op: string, location: string): Promise<Response> {
    if (response.ok) return response;
    return this.raise(response, op, location);
  }

  private async raise(response: Response, op: string, location: string): Promise<never> {
    let remote: RemoteException = {};
    const text = await response.text().catch(() => '');
    try {
      remote = (JSON.parse(text) as { RemoteException?: RemoteException }).RemoteException ?? {};
    } catch {
      // not JSON (a proxy's page)
    }
    const reason = remote.exception ? `${remote.exception}: ${remote.message ?? ''}` : text.slice(0, 200) || response.statusText;
    throw new WebHdfsError(`WebHDFS ${op} ${location} failed: HTTP ${response.status} ${reason}`.trim(), response.status, remote.exception ?? null);
  }

  private networkError(e: unknown, op: string, location: string, host: string): WebHdfsError {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why = err.name === 'TimeoutError' ? 'timed out' : err.cause?.code ?? err.cause?.message ?? err.message;
    return new WebHdfsError(`WebHDFS ${op} ${location} failed: cannot reach ${host} (${why})`, null, null);
  }
}
