/**
 * A WebHDFS **protocol test double**: a "NameNode" and a "DataNode" on two loopback ports, serving the
 * Hadoop 3 WebHDFS REST API over a local folder (HDFS path `/a/b` = `<root>/a/b`).
 *
 * Implemented as the NameNode does it: GETFILESTATUS, LISTSTATUS, MKDIRS, CREATE (answered with
 * 307 Temporary Redirect to the DataNode, which takes the data and answers 201 Created), OPEN (307 to
 * the DataNode), RENAME (HDFS's rename: `false` when the source or the destination's parent is
 * missing or the destination is a file; a folder destination receives the source *inside* it),
 * DELETE (recursive or not; a non-empty folder without `recursive=true` is refused). Errors are
 * `RemoteException` JSON with HDFS's exception names. `user.name` is required (simple auth) and
 * recorded. CREATE with overwrite=false creates the path at the NameNode step (exclusive, as HDFS's
 * lease does), so concurrent exclusive creates have one winner. `failNext(op)` makes the next call of an operation fail with a 500.
 */
import { closeSync, createWriteStream, existsSync, openSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface WebHdfsRequest {
  server: 'namenode' | 'datanode';
  method: string;
  op: string;
  path: string;
  user: string | null;
  status: number;
}

export class WebHdfsTestServer {
  readonly requests: WebHdfsRequest[] = [];
  private readonly failures = new Map<string, number>();
  private namenode!: http.Server;
  private datanode!: http.Server;
  namenodePort = 0;
  datanodePort = 0;

  private constructor(readonly root: string) {}

  static async start(root: string): Promise<WebHdfsTestServer> {
    mkdirSync(root, { recursive: true });
    const s = new WebHdfsTestServer(root);
    s.namenode = http.createServer((req, res) => void s.handle('namenode', req, res));
    s.datanode = http.createServer((req, res) => void s.handle('datanode', req, res));
    s.namenodePort = await listen(s.namenode);
    s.datanodePort = await listen(s.datanode);
    return s;
  }

  /** `webhdfs://127.0.0.1:<namenode port><hdfsPath>` */
  url(hdfsPath: string): string {
    return `webhdfs://127.0.0.1:${this.namenodePort}${hdfsPath}`;
  }

  /** The local folder behind an HDFS path or a webhdfs:// URL. */
  local(location: string): string {
    const p = location.startsWith('webhdfs://') ? new URL(location.replace(/^webhdfs:/, 'http:')).pathname : location;
    return path.join(this.root, decodeURIComponent(p));
  }

  failNext(op: string, times = 1): void {
    this.failures.set(op, times);
  }

  async close(): Promise<void> {
    await Promise.all([this.namenode, this.datanode].map((s) => new Promise<void>((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    })));
  }

  private async handle(server: 'namenode' | 'datanode', req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const op = (url.searchParams.get('op') ?? '').toUpperCase();
    const hdfsPath = decodeURIComponent(url.pathname.replace(/^\/webhdfs\/v1/, '')) || '/';
    const user = url.searchParams.get('user.name');
    const record = (status: number) => this.requests.push({ server, method: req.method ?? '', op, path: hdfsPath, user, status });
    const json = (status: number, body: unknown) => {
      record(status);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const remote = (status: number, exception: string, message: string) =>
      json(status, { RemoteException: { exception, javaClassName: `org.apache.hadoop.${exception}`, message } });
    try {
      if (!url.pathname.startsWith('/webhdfs/v1/') && url.pathname !== '/webhdfs/v1') return remote(404, 'IllegalArgumentException', `Invalid path ${url.pathname}`);
      if (user === null) return remote(401, 'SecurityException', 'Authentication required: user.name missing');
      const left = this.failures.get(op);
      if (left) {
        this.failures.set(op, left - 1);
        return remote(500, 'IOException', `injected failure of ${op}`);
      }
      const file = path.join(this.root, hdfsPath);
      const status = (p: string) => (existsSync(p) ? statSync(p) : null);

      if (server === 'datanode') {
        if (req.method === 'PUT' && op === 'CREATE') {
          if (url.searchParams.get('namenoderpcaddress') === null) return remote(400, 'IllegalArgumentException', 'namenoderpcaddress missing: not a redirect from the NameNode');
          mkdirSync(path.dirname(file), { recursive: true });
          const tmp = `${file}.__writing`;
          await pipeline(req, createWriteStream(tmp));
          renameSync(tmp, file);
          record(201);
          res.writeHead(201, { location: `hdfs://127.0.0.1:8020${hdfsPath}`, 'content-length': '0' }).end();
          return;
        }
        if (req.method === 'GET' && op === 'OPEN') {
          const st = status(file);
          if (!st || !st.isFile()) return remote(404, 'FileNotFoundException', `File does not exist: ${hdfsPath}`);
          record(200);
          res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file));
          return;
        }
        return remote(400, 'IllegalArgumentException', `DataNode: unsupported ${req.method} ${op}`);
      }

      // NameNode
      const redirect = () => {
        record(307);
        const target = `http://127.0.0.1:${this.datanodePort}/webhdfs/v1${url.pathname.replace(/^\/webhdfs\/v1/, '')}?op=${op}&user.name=${encodeURIComponent(user)}&namenoderpcaddress=127.0.0.1:8020${url.searchParams.get('overwrite') ? `&overwrite=${url.searchParams.get('overwrite')}` : ''}`;
        req.resume();
        res.writeHead(307, { location: target, 'content-length': '0' }).end();
      };
      const fileStatus = (name: string, st: ReturnType<typeof statSync>) => ({
        pathSuffix: name, type: st.isDirectory() ? 'DIRECTORY' : 'FILE', length: st.isDirectory() ? 0 : st.size, owner: user, group: 'supergroup',
        permission: st.isDirectory() ? '755' : '644', modificationTime: Math.round(st.mtimeMs), accessTime: 0, blockSize: st.isDirectory() ? 0 : 134217728, replication: st.isDirectory() ? 0 : 3,
      });
      switch (`${req.method} ${op}`) {
        case 'GET GETFILESTATUS': {
          const st = status(file);
          if (!st) return remote(404, 'FileNotFoundException', `File does not exist: ${hdfsPath}`);
          return json(200, { FileStatus: fileStatus('', st) });
        }
        case 'GET LISTSTATUS': {
          const st = status(file);
          if (!st) return remote(404, 'FileNotFoundException', `File ${hdfsPath} does not exist.`);
          const entries = st.isDirectory() ? readdirSync(file).filter((n) => !n.endsWith('.__writing')).sort().map((n) => fileStatus(n, statSync(path.join(file, n)))) : [fileStatus('', st)];
          return json(200, { FileStatuses: { FileStatus: entries } });
        }
        case 'PUT MKDIRS': {
          const st = status(file);
          if (st && !st.isDirectory()) return remote(403, 'FileAlreadyExistsException', `Path is not a directory: ${hdfsPath}`);
          mkdirSync(file, { recursive: true });
          return json(200, { boolean: true });
        }
        case 'PUT CREATE': {
          const st = status(file);
          if (st?.isDirectory()) return remote(403, 'FileAlreadyExistsException', `${hdfsPath} already exists as a directory`);
          if (st && url.searchParams.get('overwrite') !== 'true') return remote(403, 'FileAlreadyExistsException', `${hdfsPath} for client already exists`);
          // As the NameNode: without overwrite the path is created (empty, under a lease) at this
          // step, atomically, so of two concurrent CREATEs exactly one is redirected.
          if (url.searchParams.get('overwrite') !== 'true') {
            mkdirSync(path.dirname(file), { recursive: true });
            try {
              closeSync(openSync(file, 'wx'));
            } catch {
              return remote(403, 'FileAlreadyExistsException', `${hdfsPath} for client already exists`);
            }
          }
          return redirect();
        }
        case 'GET OPEN':
          return redirect();
        case 'PUT RENAME': {
          const destination = url.searchParams.get('destination');
          if (!destination?.startsWith('/')) return remote(400, 'IllegalArgumentException', `Invalid destination ${destination}`);
          let target = path.join(this.root, destination);
          if (!status(file) || !status(path.dirname(target))?.isDirectory()) return json(200, { boolean: false });
          const dst = status(target);
          if (dst?.isFile()) return json(200, { boolean: false });
          if (dst?.isDirectory()) target = path.join(target, path.basename(file)); // HDFS: moved inside
          if (status(target)) return json(200, { boolean: false });
          renameSync(file, target);
          return json(200, { boolean: true });
        }
        case 'DELETE DELETE': {
          const st = status(file);
          if (!st) return json(200, { boolean: false });
          if (st.isDirectory() && readdirSync(file).length > 0 && url.searchParams.get('recursive') !== 'true') {
            return remote(403, 'PathIsNotEmptyDirectoryException', `\`${hdfsPath} is non empty': Directory is not empty`);
          }
          rmSync(file, { recursive: true, force: true });
          return json(200, { boolean: true });
        }
        default:
          return remote(400, 'IllegalArgumentException', `Invalid value for webhdfs parameter "op": ${op} (${req.method})`);
      }
    } catch (e) {
      if (!res.headersSent) remote(500, 'IOException', (e as Error).message);
    }
  }
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}
