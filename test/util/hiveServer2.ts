/**
 * A HiveServer2 **protocol test double** for the tests: a loopback server that speaks the real
 * Thrift TCLIService protocol (the service definitions hive-driver ships, TBinaryProtocol) and runs
 * the statements on DuckDB. The real `hive-driver` client, unchanged, talks to it.
 *
 * What it implements, as HiveServer2 (Hive 2.x/3.x) does on the wire:
 * - transports: NOSASL (TBufferedTransport) and SASL PLAIN (the SASL negotiation frames
 *   START/OK/COMPLETE/BAD, then TFramedTransport), username and password checked;
 * - OpenSession, ExecuteStatement (async: the operation is RUNNING, then FINISHED or ERROR),
 *   GetOperationStatus, GetResultSetMetadata, FetchResults (columnar TRowSet, paged by maxRows;
 *   like HiveServer2, `hasMoreRows` is always false: an empty page ends the result), CloseOperation,
 *   CloseSession;
 * - errors as HiveServer2 reports them: compile errors in the ExecuteStatement status (with Hive's
 *   "Error while compiling statement: FAILED: …" text, SQLState and error code; a missing table is
 *   `SemanticException [Error 10001] … Table not found`), run-time errors as ERROR_STATE in
 *   GetOperationStatus, and injected failures (`failWhen`);
 * - OpenSession's user (NOSASL) and configuration (`set:hiveconf:K`); Hive's variable substitution
 *   (`${env:…}`, `${system:…}`, `${hiveconf:…}`, also inside literals) unless the session set
 *   `hive.variable.substitute=false`;
 * - HiveQL read by Hive's lexer rules (`hiveql.ts`); `USE db`; the metastore DDL imgpipe sends
 *   (CREATE EXTERNAL TABLE … / ALTER TABLE … ADD IF NOT EXISTS PARTITION …) recorded in `metastore`
 *   and, when `resolveLocation` maps a location to a local folder, served as a DuckDB view.
 *
 * Databases are DuckDB schemas of one in-memory DuckDB. Not implemented: HTTP transport, Kerberos,
 * TLS, the metadata calls (GetTables …), cancellation.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import { DuckDBBlobValue, DuckDBConnection, DuckDBInstance, DuckDBResult, DuckDBTypeId } from '@duckdb/node-api';
import hive from 'hive-driver';
// node-int64 comes with thrift (hive-driver's dependency); it carries i64 values exactly.
import Int64 from 'node-int64';
import thrift from 'thrift';
import { duckString, HiveParseError, translateHiveQL } from './hiveql.js';

const { TCLIService, TCLIService_types: T } = hive.thrift;

export interface HiveServer2Options {
  /** @defaultValue 'nosasl' */
  auth?: 'nosasl' | 'plain';
  /** PLAIN: accepted user → password. */
  users?: Record<string, string>;
  /** Prepares the DuckDB database (schemas = Hive databases). */
  setup?: (connection: DuckDBConnection) => Promise<void>;
  /** How long an operation stays RUNNING before it runs (exercises the client's polling). @defaultValue 5 */
  runDelayMs?: number;
  /** Maps a table/partition LOCATION to a local folder, so registered tables can be queried back. */
  resolveLocation?: (location: string) => string | null;
}

export interface FailureRule {
  match: RegExp;
  message: string;
  /** 'compile': the ExecuteStatement status fails; 'run': the operation ends in ERROR_STATE. */
  phase: 'compile' | 'run';
  sqlState?: string;
  errorCode?: number;
  /** Remaining uses; @defaultValue Infinity */
  times?: number;
}

export interface ReceivedStatement {
  session: string;
  /** The user the session runs as. */
  user: string;
  statement: string;
  /** The statement as DuckDB ran it, or null when it was refused or handled by the metastore. */
  translated: string | null;
  outcome: 'ok' | 'error';
  error?: string;
}

export interface MetastoreTable {
  name: string;
  ddl: string;
  location: string;
  partitions: Map<string, string>;
}

interface Operation {
  id: string;
  state: number;
  hasResultSet: boolean;
  error?: { message: string; sqlState: string; errorCode: number };
  connection?: DuckDBConnection;
  result?: DuckDBResult;
  names: string[];
  types: DuckDBTypeId[];
  pending: unknown[][];
  done: boolean;
  fetched: number;
  ready: Promise<void>;
}

interface Session {
  id: string;
  user: string;
  /** Session configuration from OpenSession (hiveconf keys). */
  conf: Map<string, string>;
  database: string;
  operations: Set<string>;
}

const guid = () => randomBytes(16);
const idOf = (handle: { guid: Buffer } | undefined) => (handle ? Buffer.from(handle.guid).toString('hex') : '');
const ok = () => ({ statusCode: T.TStatusCode.SUCCESS_STATUS });
const statusError = (message: string, sqlState = 'HY000', errorCode = 0, code = T.TStatusCode.ERROR_STATUS) => ({
  statusCode: code,
  errorMessage: message,
  sqlState,
  errorCode,
  infoMessages: [`*org.apache.hive.service.cli.HiveSQLException:${message}:0:0`],
});

export class HiveServer2TestServer {
  readonly statements: ReceivedStatement[] = [];
  readonly metastore = new Map<string, MetastoreTable>();
  /** Every FetchResults call: the page size asked for and the rows returned. */
  readonly fetches: { maxRows: number; rows: number }[] = [];
  /** SASL logins: user and whether accepted. */
  readonly logins: { user: string; accepted: boolean }[] = [];
  /** Every OpenSession: the user the session runs as and the configuration it was opened with. */
  readonly openedSessions: { user: string; configuration: Record<string, string> }[] = [];
  private readonly sessions = new Map<string, Session>();
  private readonly operations = new Map<string, Operation>();
  private readonly rules: FailureRule[] = [];
  private readonly sockets = new Set<net.Socket>();
  private server!: net.Server;
  port = 0;

  private constructor(
    readonly options: HiveServer2Options,
    readonly instance: DuckDBInstance,
    private readonly admin: DuckDBConnection,
  ) {}

  static async start(options: HiveServer2Options = {}): Promise<HiveServer2TestServer> {
    const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
    const admin = await instance.connect();
    await options.setup?.(admin);
    const s = new HiveServer2TestServer(options, instance, admin);
    await s.refreshSchemas();
    await s.listen();
    return s;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Make matching statements fail (the server's message is what the client must show). */
  failWhen(rule: FailureRule): void {
    this.rules.push({ times: Infinity, ...rule });
  }

  clearFailures(): void {
    this.rules.length = 0;
  }

  /** Statements received, without the session set-up (`USE …`). */
  queries(): string[] {
    return this.statements.filter((s) => !/^\s*USE\s/i.test(s.statement)).map((s) => s.statement);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const op of this.operations.values()) op.connection?.disconnectSync();
    this.admin.disconnectSync();
    this.instance.closeSync();
  }

  private async listen(): Promise<void> {
    const auth = this.options.auth ?? 'nosasl';
    const thriftServer = thrift.createServer(TCLIService, this.handler(), {
      transport: auth === 'plain' ? thrift.TFramedTransport : thrift.TBufferedTransport,
      protocol: thrift.TBinaryProtocol,
    });
    thriftServer.on('error', () => {}); // a client that went away mid-call
    const serveThrift = thriftServer.listeners('connection')[0] as (this: net.Server, socket: net.Socket) => void;
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      if (auth === 'nosasl') serveThrift.call(thriftServer, socket);
      else this.saslPlain(socket, () => serveThrift.call(thriftServer, socket));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /**
   * The SASL negotiation of Thrift's TSaslServerTransport, PLAIN mechanism: frames of
   * [status byte][u32 length][payload]; START carries the mechanism, OK the `authzid\0user\0password`
   * response; the server answers COMPLETE, or BAD with a message and closes.
   */
  private saslPlain(socket: net.Socket, then: () => void): void {
    let buffer = Buffer.alloc(0);
    let step = 0;
    const frame = (status: number, payload: Buffer) => {
      const header = Buffer.alloc(5);
      header[0] = status;
      header.writeUInt32BE(payload.length, 1);
      return Buffer.concat([header, payload]);
    };
    const fail = (message: string) => {
      socket.end(frame(3, Buffer.from(message)));
    };
    const onData = (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      while (buffer.length >= 5) {
        const status = buffer[0]!;
        const length = buffer.readUInt32BE(1);
        if (status < 1 || status > 5 || length > 1 << 20) {
          // Not SASL at all (e.g. a NOSASL client's Thrift message): HiveServer2 drops the connection.
          socket.destroy();
          return;
        }
        if (buffer.length < 5 + length) return;
        const payload = buffer.subarray(5, 5 + length);
        buffer = buffer.subarray(5 + length);
        if (step === 0) {
          if (status !== 1 || payload.toString() !== 'PLAIN') return fail(`Unsupported mechanism type ${payload.toString()}`);
          step = 1;
        } else {
          const [, user = '', password = ''] = payload.toString('utf8').split('\u0000');
          const accepted = this.options.users?.[user] === password;
          this.logins.push({ user, accepted });
          if (!accepted) return fail('Error validating the login');
          socket.off('data', onData);
          socket.pause();
          socket.write(frame(5, Buffer.alloc(0)));
          then();
          if (buffer.length > 0) socket.unshift(buffer);
          socket.resume();
          return;
        }
      }
    };
    socket.on('data', onData);
  }

  private handler(): object {
    const resp = <K extends string>(type: K, args: object) => new T[type](args);
    return {
      OpenSession: async (req: { client_protocol: number; username?: string | null; configuration?: Record<string, string> | null }) => {
        // HiveServer2: with NOSASL the session runs as OpenSession's username, else `anonymous`. With
        // SASL it runs as the login's user (the double, which cannot tell connections apart in a
        // handler, takes the latest accepted login when OpenSession names no user).
        const saslUser = this.options.auth === 'plain' && !req.username ? this.logins.filter((l) => l.accepted).at(-1)?.user : undefined;
        const conf = new Map<string, string>();
        for (const [key, value] of Object.entries(req.configuration ?? {})) {
          // HiveSessionImpl.configureSession: `set:hiveconf:K`, `set:K` and a bare `K` all set K.
          conf.set(key.replace(/^set:(hiveconf:)?/, ''), value);
        }
        const session: Session = { id: guid().toString('hex'), user: saslUser ?? (req.username || 'anonymous'), database: 'default', operations: new Set(), conf };
        this.sessions.set(session.id, session);
        this.openedSessions.push({ user: session.user, configuration: Object.fromEntries(conf) });
        return resp('TOpenSessionResp', {
          status: ok(),
          serverProtocolVersion: Math.min(req.client_protocol, T.TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V10),
          sessionHandle: { sessionId: { guid: Buffer.from(session.id, 'hex'), secret: guid() } },
          configuration: {},
        });
      },
      CloseSession: async (req: { sessionHandle: { sessionId: { guid: Buffer } } }) => {
        const session = this.sessions.get(idOf(req.sessionHandle.sessionId));
        if (session) {
          for (const id of session.operations) this.closeOperation(id);
          this.sessions.delete(session.id);
        }
        return resp('TCloseSessionResp', { status: ok() });
      },
      ExecuteStatement: async (req: { sessionHandle: { sessionId: { guid: Buffer } }; statement: string; runAsync?: boolean }) => {
        const session = this.sessions.get(idOf(req.sessionHandle.sessionId));
        if (!session) return resp('TExecuteStatementResp', { status: statusError('Invalid SessionHandle', 'HY000', 0, T.TStatusCode.INVALID_HANDLE_STATUS) });
        const outcome = await this.execute(session, req.statement);
        if ('error' in outcome) return resp('TExecuteStatementResp', { status: outcome.error });
        return resp('TExecuteStatementResp', {
          status: ok(),
          operationHandle: { operationId: { guid: Buffer.from(outcome.op.id, 'hex'), secret: guid() }, operationType: T.TOperationType.EXECUTE_STATEMENT, hasResultSet: outcome.op.hasResultSet },
        });
      },
      GetOperationStatus: async (req: { operationHandle: { operationId: { guid: Buffer } } }) => {
        const op = this.operations.get(idOf(req.operationHandle.operationId));
        if (!op) return resp('TGetOperationStatusResp', { status: statusError('Invalid OperationHandle', 'HY000', 0, T.TStatusCode.INVALID_HANDLE_STATUS) });
        return resp('TGetOperationStatusResp', {
          status: ok(),
          operationState: op.state,
          hasResultSet: op.hasResultSet,
          ...(op.error ? { errorMessage: op.error.message, sqlState: op.error.sqlState, errorCode: op.error.errorCode } : {}),
        });
      },
      GetResultSetMetadata: async (req: { operationHandle: { operationId: { guid: Buffer } } }) => {
        const op = this.operations.get(idOf(req.operationHandle.operationId));
        if (!op || op.state !== T.TOperationState.FINISHED_STATE) return resp('TGetResultSetMetadataResp', { status: statusError('Expected state FINISHED') });
        return resp('TGetResultSetMetadataResp', {
          status: ok(),
          schema: { columns: op.names.map((name, i) => ({ columnName: name, position: i + 1, typeDesc: { types: [{ primitiveEntry: { type: hiveType(op.types[i]!) } }] } })) },
        });
      },
      FetchResults: async (req: { operationHandle: { operationId: { guid: Buffer } }; orientation: number; maxRows: number | { toNumber(): number }; fetchType?: number }) => {
        const op = this.operations.get(idOf(req.operationHandle.operationId));
        const maxRows = typeof req.maxRows === 'number' ? req.maxRows : req.maxRows.toNumber();
        if (!op) return resp('TFetchResultsResp', { status: statusError('Invalid OperationHandle', 'HY000', 0, T.TStatusCode.INVALID_HANDLE_STATUS) });
        if (op.state !== T.TOperationState.FINISHED_STATE) {
          return resp('TFetchResultsResp', { status: statusError(`Expected state FINISHED, but found ${stateName(op.state)}`) });
        }
        if (req.fetchType === 1) return resp('TFetchResultsResp', { status: ok(), hasMoreRows: false, results: rowSet([], [], 0) });
        if (req.orientation === T.TFetchOrientation.FETCH_FIRST && op.fetched > 0) {
          return resp('TFetchResultsResp', { status: statusError('The fetch type FETCH_FIRST is not supported for this resultset', 'HY106') });
        }
        const rows = await this.take(op, Math.max(1, maxRows));
        this.fetches.push({ maxRows, rows: rows.length });
        const offset = op.fetched;
        op.fetched += rows.length;
        // Like HiveServer2: hasMoreRows is always false; the client stops at an empty page.
        return resp('TFetchResultsResp', { status: ok(), hasMoreRows: false, results: rowSet(op.types, rows, offset) });
      },
      CloseOperation: async (req: { operationHandle: { operationId: { guid: Buffer } } }) => {
        this.closeOperation(idOf(req.operationHandle.operationId));
        return resp('TCloseOperationResp', { status: ok() });
      },
      CancelOperation: async (req: { operationHandle: { operationId: { guid: Buffer } } }) => {
        const op = this.operations.get(idOf(req.operationHandle.operationId));
        if (op) {
          op.connection?.interrupt();
          op.state = T.TOperationState.CANCELED_STATE;
        }
        return resp('TCancelOperationResp', { status: ok() });
      },
    };
  }

  private record(session: Session, statement: string, translated: string | null, error?: string): void {
    this.statements.push({ session: session.id, user: session.user, statement, translated, outcome: error ? 'error' : 'ok', ...(error ? { error } : {}) });
  }

  /** Compile (synchronously, as HiveServer2 does), then run in the background. */
  private async execute(session: Session, received: string): Promise<{ op: Operation } | { error: object }> {
    // Like Hive's Driver.compile: variables are substituted in the whole text, string literals
    // included, unless the session set hive.variable.substitute=false.
    const statement = session.conf.get('hive.variable.substitute') === 'false' ? received : substituteVariables(received, session.conf);
    const compileError = (message: string, sqlState = '42000', errorCode = 40000) => {
      const full = `Error while compiling statement: FAILED: ${message}`;
      this.record(session, received, null, full);
      return { error: statusError(full, sqlState, errorCode) };
    };
    const rule = this.rules.find((r) => r.match.test(statement) && (r.times ?? Infinity) > 0);
    if (rule) rule.times = (rule.times ?? Infinity) - 1;
    if (rule?.phase === 'compile') return compileError(rule.message, rule.sqlState, rule.errorCode);

    let translated;
    try {
      translated = translateHiveQL(statement);
    } catch (e) {
      if (e instanceof HiveParseError) return compileError(e.message);
      throw e;
    }
    const sql = translated.sql.trim();

    const use = /^USE\s+("?)(\w+)\1$/i.exec(sql);
    if (use) {
      const exists = await this.admin.runAndReadAll(`SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ${duckString(use[2]!.toLowerCase())}`);
      if (Number(exists.getRows()[0]![0]) === 0) return compileError(`SemanticException [Error 10072]: Database does not exist: ${use[2]}`, '42000', 10072);
      session.database = use[2]!.toLowerCase();
      this.record(session, received, null);
      return { op: this.newOperation(session, false, async () => {}) };
    }
    const ddl = this.metastoreStatement(session, sql, translated.literals);
    if (ddl) {
      if ('error' in ddl) return compileError(ddl.error, ddl.sqlState, ddl.errorCode);
      this.record(session, received, null);
      return { op: this.newOperation(session, false, async () => {}) };
    }

    const connection = await this.instance.connect();
    await connection.run(`SET search_path = ${duckString(session.database)}`);
    let prepared;
    try {
      prepared = await connection.prepare(sql);
    } catch (e) {
      connection.disconnectSync();
      const message = (e as Error).message;
      const missing = /Table with name (\S+) does not exist/.exec(message);
      if (missing) return compileError(`SemanticException [Error 10001]: Line 1:0 Table not found '${missing[1]}'`, '42S02', 10001);
      // Hive's wording for an unknown column (DuckDB's binder says it its own way).
      const column = /does not have a column named "([^"]+)"|Referenced column "([^"]+)" not found/.exec(message);
      if (column) return compileError(`SemanticException [Error 10004]: Line 1:0 Invalid table alias or column reference '${column[1] ?? column[2]}'`, '42000', 10004);
      return compileError(`SemanticException ${message.split('\n')[0]}`);
    }
    this.record(session, received, sql);
    const op = this.newOperation(session, true, async () => {
      if (rule?.phase === 'run') {
        throw Object.assign(new Error(rule.message), { sqlState: rule.sqlState, errorCode: rule.errorCode });
      }
      op.result = await prepared.stream();
      op.names = op.result.columnNames();
      op.types = op.result.columnTypes().map((t) => t.typeId);
    });
    op.connection = connection;
    return { op };
  }

  private newOperation(session: Session, hasResultSet: boolean, run: () => Promise<void>): Operation {
    const op: Operation = {
      id: guid().toString('hex'),
      state: T.TOperationState.RUNNING_STATE,
      hasResultSet,
      names: [],
      types: [],
      pending: [],
      done: false,
      fetched: 0,
      ready: Promise.resolve(),
    };
    this.operations.set(op.id, op);
    session.operations.add(op.id);
    op.ready = new Promise<void>((resolve) => setTimeout(resolve, this.options.runDelayMs ?? 5))
      .then(run)
      .then(
        () => {
          if (op.state === T.TOperationState.RUNNING_STATE) op.state = T.TOperationState.FINISHED_STATE;
        },
        (e: Error & { sqlState?: string; errorCode?: number }) => {
          op.state = T.TOperationState.ERROR_STATE;
          op.error = { message: `Error while processing statement: FAILED: Execution Error, ${e.message}`, sqlState: e.sqlState ?? '08S01', errorCode: e.errorCode ?? 2 };
        },
      );
    return op;
  }

  private async take(op: Operation, maxRows: number): Promise<unknown[][]> {
    while (op.pending.length < maxRows && !op.done && op.result) {
      const chunk = await op.result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) op.done = true;
      else op.pending.push(...chunk.getRows());
    }
    return op.pending.splice(0, maxRows);
  }

  private closeOperation(id: string): void {
    const op = this.operations.get(id);
    if (!op) return;
    this.operations.delete(id);
    op.state = T.TOperationState.CLOSED_STATE;
    // Close the DuckDB connection once a running query has ended.
    void op.ready.finally(() => op.connection?.disconnectSync());
  }

  /** The metastore DDL imgpipe sends; null when the statement is not one of them. */
  private metastoreStatement(session: Session, sql: string, literals: string[]): { done: true } | { error: string; sqlState?: string; errorCode?: number } | null {
    const NAME = String.raw`((?:"[^"]+"|\w+)(?:\.(?:"[^"]+"|\w+))?)`;
    const qualify = (raw: string) => {
      const parts = raw.split('.').map((p) => p.replaceAll('"', '').toLowerCase());
      return parts.length === 1 ? `${session.database}.${parts[0]}` : parts.join('.');
    };
    const create = new RegExp(String.raw`^CREATE\s+EXTERNAL\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?${NAME}\s*\(`, 'i').exec(sql);
    if (create) {
      const name = qualify(create[2]!);
      if (!/\bSTORED\s+AS\s+PARQUET\b/i.test(sql) || !/\bPARTITIONED\s+BY\s*\(/i.test(sql)) return { error: 'SemanticException expected PARTITIONED BY and STORED AS PARQUET' };
      if (!this.schemaExists(name.split('.')[0]!)) return { error: `SemanticException [Error 10072]: Database does not exist: ${name.split('.')[0]}`, errorCode: 10072 };
      if (this.metastore.has(name)) {
        if (!create[1]) return { error: `Error 10073: Table already exists: ${name}`, errorCode: 10073 };
        return { done: true };
      }
      this.metastore.set(name, { name, ddl: sql, location: literals.at(-1)!, partitions: new Map() });
      return { done: true };
    }
    const add = new RegExp(String.raw`^ALTER\s+TABLE\s+${NAME}\s+ADD\s+(IF\s+NOT\s+EXISTS\s+)?PARTITION\s*\(\s*("?)model\3\s*=\s*'[^']*'\s*,\s*("?)snapshot\4\s*=\s*'[^']*'\s*\)\s*LOCATION\s+'[^']*'\s*$`, 'i').exec(sql);
    if (add) {
      const name = qualify(add[1]!);
      const table = this.metastore.get(name);
      if (!table) return { error: `SemanticException [Error 10001]: Table not found ${name}`, sqlState: '42S02', errorCode: 10001 };
      const [model, snapshot, location] = literals as [string, string, string];
      const key = `model=${model}/snapshot=${snapshot}`;
      if (table.partitions.has(key)) {
        if (!add[2]) return { error: `Partition already exists: ${key}` };
        return { done: true };
      }
      table.partitions.set(key, location);
      return { done: true };
    }
    if (/^(CREATE|ALTER|DROP|INSERT|LOAD|TRUNCATE)\b/i.test(sql)) return { error: 'SemanticException this test server runs only SELECT, USE and imgpipe\'s metastore DDL' };
    return null;
  }

  private schemaExists(name: string): boolean {
    return this.knownSchemas.has(name);
  }

  /** Hive databases known to the server (DuckDB schemas, refreshed by `refreshSchemas`). */
  private knownSchemas = new Set<string>(['default']);

  /** Re-read DuckDB's schemas (call after `setup` created some outside `start`). */
  async refreshSchemas(): Promise<void> {
    const reader = await this.admin.runAndReadAll('SELECT DISTINCT schema_name FROM duckdb_schemas()');
    this.knownSchemas = new Set(reader.getRows().map((r) => String(r[0])));
    this.knownSchemas.add('default');
  }

  /**
   * A registered table as a DuckDB view over its partitions' Parquet files (resolved to local
   * folders with `resolveLocation`), for reading a committed table back through the server.
   */
  async exposeTable(name: string): Promise<void> {
    const table = this.metastore.get(name);
    if (!table || !this.options.resolveLocation) throw new Error(`no table ${name} or no resolveLocation`);
    const globs = [...table.partitions.values()].map((l) => duckString(`${this.options.resolveLocation!(l)}/*.parquet`));
    const [db, t] = name.split('.') as [string, string];
    await this.admin.run(`CREATE OR REPLACE VIEW "${db}"."${t}" AS SELECT * FROM read_parquet([${globs.join(', ')}], hive_partitioning = true)`);
  }
}

/**
 * Hive's VariableSubstitution, ported: each `${name}` (pattern `\$\{[^}$ ]+\}`) is replaced by
 * `system:` a Java system property (here: user.name, user.home, java.io.tmpdir), `env:` an environment
 * variable of the server, `hiveconf:` a session setting, `hivevar:` or a bare name a session
 * variable or setting; an unknown name stays as written. Repeated (up to 40 times) while it changes.
 */
export function substituteVariables(text: string, conf: ReadonlyMap<string, string> = new Map()): string {
  const system: Record<string, string> = { 'user.name': os.userInfo().username, 'user.home': os.homedir(), 'java.io.tmpdir': os.tmpdir() };
  const lookup = (name: string): string | undefined => {
    if (name.startsWith('system:')) return system[name.slice(7)];
    if (name.startsWith('env:')) return process.env[name.slice(4)];
    if (name.startsWith('hiveconf:')) return conf.get(name.slice(9));
    if (name.startsWith('hivevar:')) return conf.get(`hivevar:${name.slice(8)}`);
    return conf.get(`hivevar:${name}`) ?? conf.get(name);
  };
  let current = text;
  for (let i = 0; i < 40; i++) {
    const next = current.replace(/\$\{([^}$ ]+)\}/g, (whole, name: string) => lookup(name) ?? whole);
    if (next === current) break;
    current = next;
  }
  return current;
}

function stateName(state: number): string {
  return Object.entries(T.TOperationState as Record<string, number>).find(([, v]) => v === state)?.[0].replace('_STATE', '') ?? String(state);
}

function hiveType(type: DuckDBTypeId): number {
  switch (type) {
    case DuckDBTypeId.BOOLEAN:
      return T.TTypeId.BOOLEAN_TYPE;
    case DuckDBTypeId.TINYINT:
      return T.TTypeId.TINYINT_TYPE;
    case DuckDBTypeId.SMALLINT:
      return T.TTypeId.SMALLINT_TYPE;
    case DuckDBTypeId.INTEGER:
      return T.TTypeId.INT_TYPE;
    case DuckDBTypeId.BIGINT:
      return T.TTypeId.BIGINT_TYPE;
    case DuckDBTypeId.FLOAT:
      return T.TTypeId.FLOAT_TYPE;
    case DuckDBTypeId.DOUBLE:
      return T.TTypeId.DOUBLE_TYPE;
    case DuckDBTypeId.BLOB:
      return T.TTypeId.BINARY_TYPE;
    case DuckDBTypeId.TIMESTAMP:
      return T.TTypeId.TIMESTAMP_TYPE;
    case DuckDBTypeId.DATE:
      return T.TTypeId.DATE_TYPE;
    default:
      return T.TTypeId.STRING_TYPE;
  }
}

/** Rows to a columnar TRowSet, the format of protocol V6 and later; nulls as a bitmap per column. */
function rowSet(types: DuckDBTypeId[], rows: unknown[][], offset: number) {
  const columns = types.map((type, c) => {
    const nulls = Buffer.alloc(Math.ceil(rows.length / 8));
    const values = rows.map((row, r) => {
      const v = row[c];
      if (v === null || v === undefined) nulls[r >> 3]! |= 1 << (r & 7);
      return v;
    });
    const pick = <V>(conv: (v: unknown) => V, empty: V) => ({ values: values.map((v) => (v === null || v === undefined ? empty : conv(v))), nulls });
    switch (hiveType(type)) {
      case T.TTypeId.BOOLEAN_TYPE:
        return { boolVal: pick((v) => Boolean(v), false) };
      case T.TTypeId.TINYINT_TYPE:
        return { byteVal: pick((v) => Number(v), 0) };
      case T.TTypeId.SMALLINT_TYPE:
        return { i16Val: pick((v) => Number(v), 0) };
      case T.TTypeId.INT_TYPE:
        return { i32Val: pick((v) => Number(v), 0) };
      case T.TTypeId.BIGINT_TYPE:
        return {
          i64Val: pick((v) => {
            const b = Buffer.alloc(8);
            b.writeBigInt64BE(BigInt(v as bigint));
            return new Int64(b);
          }, new Int64(0)),
        };
      case T.TTypeId.FLOAT_TYPE:
      case T.TTypeId.DOUBLE_TYPE:
        return { doubleVal: pick((v) => Number(v), 0) };
      case T.TTypeId.BINARY_TYPE:
        return { binaryVal: pick((v) => Buffer.from((v as DuckDBBlobValue).bytes), Buffer.alloc(0)) };
      default:
        return { stringVal: pick((v) => String(v), '') };
    }
  });
  return { startRowOffset: offset, rows: [], columns };
}
