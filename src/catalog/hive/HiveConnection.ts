/**
 * One HiveServer2 session through hive-driver: connect and authenticate, run statements
 * asynchronously, page through results, close. Used by the Hive catalog (driver) and the Hive byte
 * source (any process).
 *
 * Call sequence: `open` → (`query` | `execute`)* → `close`. One statement at a time per connection
 * is the normal use; concurrent statements are allowed (HiveServer2 runs operations of a session in
 * parallel).
 *
 * - Results are paged: each FetchResults page (`fetch_size` rows) is decoded, handed out, and dropped
 *   (`operation.flush()`); hive-driver's `fetchAll` would keep every page.
 * - Every call is guarded: a call that does not answer within `request_timeout_ms` (`connect_timeout_ms`
 *   while opening) destroys the socket and fails; hive-driver's asynchronous `error` and `close` events
 *   fail the calls in flight instead of leaving them pending forever.
 * - Errors a user meets are UsageErrors with the server's own message: unreachable host (host:port,
 *   the reason and the timeout), refused login, wrong `--hive-auth`, SQL errors, missing tables. A
 *   connection lost in the middle of a run is a plain Error (the run fails; partitions are retried).
 * - The password is passed to hive-driver's authentication and nowhere else.
 */
import { createRequire } from 'node:module';
import hive from 'hive-driver';
import type { Logger } from 'pino';
import { UsageError } from '../../util/errors.js';
import { hiveIdentifier } from '../sqlQuote.js';
import { decodeRowSet, type ColumnDesc, type HiveValue, type ThriftRowSet } from './decodeRowSet.js';
import { hiveAddress, readHivePassword, type HiveConnectionSpec } from './hiveSettings.js';
import { SocketConnectionProvider } from './SocketConnectionProvider.js';

const { TCLIService, TCLIService_types } = hive.thrift;
type HiveClient = InstanceType<typeof hive.HiveClient>;
type HiveSession = Awaited<ReturnType<HiveClient['openSession']>>;
type HiveOperation = Awaited<ReturnType<HiveSession['executeStatement']>>;

/** hive-driver's StatusError: not an Error; message and code from the server's TStatus. */
interface StatusErrorLike {
  name: string;
  message: string;
  code?: number;
}

/**
 * Session settings sent in OpenSession (the `set:hiveconf:` form of the Hive JDBC driver).
 * `hive.variable.substitute=false`: Hive otherwise replaces `${env:…}`, `${system:…}`, `${hiveconf:…}`
 * and `${hivevar:…}` anywhere in a statement, string literals included, so a category named
 * `${env:HOME}` would reach the query as the server's home folder. imgpipe sends no variables; a
 * `--sql` selection that relies on substitution must inline its values instead.
 */
export const SESSION_CONFIGURATION: Readonly<Record<string, string>> = { 'set:hiveconf:hive.variable.substitute': 'false' };

export interface HiveConnectionOptions {
  log?: Logger;
  /** Where the password comes from (tests). @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
}

const TERMINAL_STATES: Record<number, string> = {
  [TCLIService_types.TOperationState.CANCELED_STATE]: 'was cancelled',
  [TCLIService_types.TOperationState.CLOSED_STATE]: 'was closed',
  [TCLIService_types.TOperationState.ERROR_STATE]: 'failed',
  [TCLIService_types.TOperationState.TIMEDOUT_STATE]: 'timed out',
  [TCLIService_types.TOperationState.UKNOWN_STATE]: 'is in an unknown state',
};

export class HiveConnection {
  private lost: Error | null = null;
  private readonly onLost = new Set<(e: Error) => void>();
  private closed = false;

  private constructor(
    readonly spec: HiveConnectionSpec,
    private readonly client: HiveClient,
    private readonly provider: SocketConnectionProvider,
    private session: HiveSession | null,
    private readonly log?: Logger,
  ) {}

  get address(): string {
    return hiveAddress(this.spec);
  }

  /** The connection went away (closed, reset, timed out); a new one must be opened. */
  get isLost(): boolean {
    return this.lost !== null;
  }

  /**
   * Connect, authenticate, open a session and `USE` the source database.
   * @throws {UsageError} unreachable host, timeout, refused login, wrong auth mode, unknown database,
   *   missing `kerberos` package.
   */
  static async open(spec: HiveConnectionSpec, options: HiveConnectionOptions = {}): Promise<HiveConnection> {
    const address = hiveAddress(spec);
    const auth = authProvider(spec, readHivePassword(spec, options.env));
    const provider = new SocketConnectionProvider(spec.connect_timeout_ms);
    const client = new hive.HiveClient(TCLIService, TCLIService_types);
    const connection = new HiveConnection(spec, client, provider, null, options.log);
    client.on('error', (e: Error) => connection.fail(e));
    client.on('close', () => connection.fail(new Error('connection closed')));
    client.on('timeout', () => connection.fail(new Error('socket timeout')));
    options.log?.debug({ hive: address, auth: spec.auth, user: spec.user }, 'connecting to HiveServer2');

    const seconds = `${spec.connect_timeout_ms / 1000} s`;
    const unreachable = (reason: string) =>
      new UsageError(`Cannot connect to HiveServer2 at ${address} (--hive): ${reason} (connect timeout ${seconds}).`);
    try {
      // The TCP connect has its own timer (the provider's); this one also covers authentication.
      await connection.guard(
        client.connect({ host: spec.host, port: spec.port, options: {} }, provider as never, auth as never),
        'the authentication',
        spec.connect_timeout_ms + 1000,
      );
    } catch (e) {
      provider.destroy();
      const err = e as Error & { code?: string };
      if (err.name === 'AuthenticationError' || /^Authentication error/.test(err.message ?? '')) {
        throw new UsageError(
          `HiveServer2 at ${address} refused the login of user ${JSON.stringify(spec.user)} (--hive-auth ${spec.auth}): ${err.message}. ` +
            'Check --hive-user and the password (--hive-password-file or $IMGPIPE_HIVE_PASSWORD).',
        );
      }
      if (err instanceof UsageError) throw err;
      const socketError = provider.socketError;
      if (socketError?.code === 'EPROTO') throw new UsageError(`HiveServer2 at ${address}: ${socketError.message}; check that HOST:PORT is HiveServer2's binary Thrift port, or try --hive-auth nosasl.`);
      if (err.code === 'ECLOSED') throw new UsageError(`HiveServer2 at ${address} closed the connection during authentication (--hive-auth ${spec.auth}); ${authHint(spec)}.`);
      if (socketError) throw unreachable(describeSocketError(socketError));
      if (err.code === 'ETIMEDOUT') throw new UsageError(`HiveServer2 at ${address} accepted the connection but did not answer the ${spec.auth} authentication within ${seconds}; ${authHint(spec)}.`);
      throw unreachable(describeSocketError(err));
    }
    try {
      connection.session = await connection.guard(
        client.openSession({
          client_protocol: TCLIService_types.TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V10,
          // NOSASL has no login: HiveServer2 takes the session's user from OpenSession (without it,
          // every statement runs as `anonymous`). With SASL the login's user wins; sending it is harmless.
          username: spec.user,
          configuration: { ...SESSION_CONFIGURATION },
        }),
        'OpenSession',
        spec.connect_timeout_ms,
      );
    } catch (e) {
      provider.destroy();
      if (isStatusError(e)) throw new UsageError(`HiveServer2 at ${address} refused to open a session: ${e.message}`);
      // The TCP connection itself failed (NOSASL connects lazily, so it shows here).
      if (provider.socketError) throw unreachable(describeSocketError(provider.socketError));
      throw new UsageError(`HiveServer2 at ${address} did not open a session (${(e as Error).message}); ${authHint(spec)}.`);
    }
    try {
      await connection.execute(`USE ${hiveIdentifier(spec.database, 'database name')}`);
    } catch (e) {
      await connection.close();
      throw e;
    }
    return connection;
  }

  /**
   * Run a statement that returns rows and yield its rows page by page (at most `pageSize` rows each),
   * in the server's order. Memory holds one page. Breaking out of the loop closes the operation.
   * @throws {UsageError} when Hive refuses or fails the statement (the server's message).
   */
  async *query(statement: string, pageSize = this.spec.fetch_size): AsyncGenerator<HiveValue[][]> {
    const op = await this.run(statement);
    try {
      // A statement without a result set fetches nothing: the loop ends at its first, empty page.
      op.setMaxRows(pageSize);
      for (;;) {
        await this.guard(op.fetch(), 'FetchResults');
        const pages = op.getData() as ThriftRowSet[];
        op.flush();
        const columns = ((op.getSchema() as { columns?: ColumnDesc[] } | null)?.columns ?? []) as ColumnDesc[];
        let rows: HiveValue[][] = [];
        for (const page of pages) rows = rows.concat(decodeRowSet(columns, page));
        // HiveServer2 leaves hasMoreRows false; an empty page is the end.
        if (rows.length === 0) return;
        yield rows;
      }
    } finally {
      await this.closeOperation(op);
    }
  }

  /** Run a statement whose result is not read (DDL, USE). @throws {UsageError} as `query`. */
  async execute(statement: string): Promise<void> {
    const op = await this.run(statement);
    await this.closeOperation(op);
  }

  /** Close the session and the connection; harmless twice; never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.session && !this.lost) await this.guard(this.session.close(), 'CloseSession', Math.min(this.spec.request_timeout_ms, 5000));
    } catch (e) {
      this.log?.debug({ err: e }, 'CloseSession failed');
    }
    this.lost ??= new Error('connection closed by imgpipe');
    this.client.close();
    this.provider.destroy();
  }

  /** Execute asynchronously and wait (polling GetOperationStatus) until the operation finished. */
  private async run(statement: string): Promise<HiveOperation> {
    if (!this.session) throw new Error('HiveConnection: no session');
    this.log?.debug({ statement: statement.slice(0, 500) }, 'HiveQL');
    let op: HiveOperation;
    try {
      op = await this.guard(this.session.executeStatement(statement, { runAsync: true }), 'ExecuteStatement');
    } catch (e) {
      throw this.statementError(e, statement);
    }
    try {
      let delay = 20;
      for (;;) {
        const status = await this.guard(op.status(false), 'GetOperationStatus');
        const state = status.operationState;
        if (state === TCLIService_types.TOperationState.FINISHED_STATE) return op;
        if (state !== undefined && state in TERMINAL_STATES) {
          throw this.statementError({ name: 'Status Error', message: status.errorMessage || `the operation ${TERMINAL_STATES[state]}`, code: status.errorCode }, statement);
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 1000);
      }
    } catch (e) {
      await this.closeOperation(op);
      throw e;
    }
  }

  private async closeOperation(op: HiveOperation): Promise<void> {
    if (this.lost) return;
    try {
      await this.guard(op.close(), 'CloseOperation', Math.min(this.spec.request_timeout_ms, 10_000));
    } catch (e) {
      this.log?.debug({ err: e }, 'CloseOperation failed');
    }
  }

  /** A server-side status error becomes a UsageError with the server's message; others pass. */
  private statementError(e: unknown, statement: string): Error {
    if (!isStatusError(e)) return e as Error;
    const shown = statement.length > 300 ? `${statement.slice(0, 300)}…` : statement;
    if (e.code === 10001 || /Table not found|\[Error 10001\]/i.test(e.message)) {
      return new UsageError(`Hive table not found (database ${this.spec.database}, on ${this.address}): ${e.message}\n  query: ${shown}`);
    }
    if (e.code === 10072 || /Database does not exist/i.test(e.message)) {
      return new UsageError(`Hive database not found (--database/--output-database, on ${this.address}): ${e.message}`);
    }
    return new UsageError(`Hive query failed on ${this.address}: ${e.message}\n  query: ${shown}`);
  }

  /** Mark the connection lost and fail every call in flight. */
  private fail(e: Error): void {
    if (this.lost) return;
    this.lost = e;
    for (const reject of this.onLost) reject(e);
    this.onLost.clear();
  }

  /**
   * Wait for a hive-driver call, failing it when the connection is lost or it takes longer than
   * `timeoutMs` (then the socket is destroyed: a late answer cannot be matched any more).
   */
  private guard<T>(call: Promise<T>, what: string, timeoutMs = this.spec.request_timeout_ms): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const lostError = (e: Error) =>
        Object.assign(new Error(`HiveServer2 at ${this.address} went away during ${what}: ${e.message}`), { cause: e, code: (e as { code?: string }).code });
      if (this.lost) {
        call.catch(() => {});
        return reject(lostError(this.lost));
      }
      const onLost = (e: Error) => {
        clearTimeout(timer);
        reject(lostError(e));
      };
      const timer = setTimeout(() => {
        this.onLost.delete(onLost);
        const e = Object.assign(new Error(`HiveServer2 at ${this.address} did not answer ${what} within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' });
        reject(e);
        this.fail(e);
        this.provider.destroy();
      }, timeoutMs);
      this.onLost.add(onLost);
      call.then(
        (value) => {
          clearTimeout(timer);
          this.onLost.delete(onLost);
          resolve(value);
        },
        (e) => {
          clearTimeout(timer);
          this.onLost.delete(onLost);
          reject(e);
        },
      );
    });
  }
}

function authHint(spec: HiveConnectionSpec): string {
  return spec.auth === 'nosasl'
    ? 'the server may expect SASL: try --hive-auth plain (or ldap, kerberos)'
    : 'the server may expect no SASL: try --hive-auth nosasl, and check that HOST:PORT is HiveServer2 in binary transport mode (not http)';
}

function isStatusError(e: unknown): e is StatusErrorLike {
  return typeof e === 'object' && e !== null && (e as { name?: string }).name === 'Status Error';
}

function describeSocketError(e: Error & { code?: string }): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens on that port)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host name';
    case 'ETIMEDOUT':
      return 'no answer (timed out)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ECONNRESET':
      return 'connection reset by the server';
    default:
      return e.code ? `${e.code}: ${e.message}` : e.message;
  }
}

/** hive-driver's authentication for the mode; Kerberos needs the optional `kerberos` package. */
function authProvider(spec: HiveConnectionSpec, password: string | undefined): unknown {
  switch (spec.auth) {
    case 'nosasl':
      return new hive.auth.NoSaslAuthentication();
    case 'plain':
    case 'ldap':
      // LDAP is SASL PLAIN on the wire; HiveServer2 checks the password against LDAP.
      return new hive.auth.PlainTcpAuthentication({ username: spec.user, password: password ?? (spec.auth === 'plain' ? 'anonymous' : '') });
    case 'kerberos': {
      let kerberos: unknown;
      try {
        kerberos = createRequire(import.meta.url)('kerberos');
      } catch {
        throw new UsageError('--hive-auth kerberos needs the optional `kerberos` package (npm install kerberos; it builds against the system GSSAPI/MIT Kerberos libraries) and a ticket from kinit.');
      }
      const process = new hive.auth.helpers.MongoKerberosAuthProcess({ fqdn: spec.host, service: spec.kerberos_service }, kerberos as never);
      return new hive.auth.KerberosTcpAuthentication({ username: spec.user, password }, process);
    }
  }
}
