/**
 * hive-driver's TCP connection provider, with what a batch job needs on top: a connect timeout, and a
 * handle on the socket so a connection that stopped answering can be destroyed (hive-driver's own
 * `TcpConnection` keeps the socket to itself and waits for the OS to give up, minutes later).
 *
 * It plugs into `HiveClient.connect(options, provider, auth)` (hive-driver's extension point); the
 * authentication (NOSASL, SASL PLAIN, Kerberos), the Thrift client and the protocol stay hive-driver's.
 * Plain TCP only (no TLS).
 */
import net from 'node:net';
import thrift from 'thrift';

interface AuthProvider {
  authenticate(transport: SocketTransport): Promise<SocketTransport>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Node's listener signature
type SocketListener = (...args: any[]) => void;

/**
 * hive-driver's ITransport over a net.Socket that we own. While `checkSasl` is on, the first bytes the
 * server sends must be a SASL negotiation frame (status 1–5): hive-driver's SASL code would otherwise
 * report any answer (an HTTP proxy's "400 Bad Request", a NOSASL server's Thrift reply) as a failed
 * login.
 */
export class SocketTransport {
  socket: net.Socket | null = null;
  checkSasl = true;
  private options: Record<string, unknown> = {};
  private readonly wrapped = new Map<SocketListener, SocketListener>();
  constructor(
    readonly host: string,
    readonly port: number,
    private readonly onSocket: (socket: net.Socket) => void,
  ) {}

  getTransport(): net.Socket | null {
    return this.socket;
  }
  setOptions(option: string, value: unknown): void {
    this.options = { ...this.options, [option]: value };
  }
  getOptions(): Record<string, unknown> {
    return this.options;
  }
  connect(): void {
    this.socket = net.createConnection({ host: this.host, port: this.port });
    this.onSocket(this.socket);
  }
  addListener(eventName: string, listener: SocketListener): void {
    if (eventName !== 'data') {
      this.socket!.addListener(eventName, listener);
      return;
    }
    const checked: SocketListener = (data: Buffer) => {
      if (this.checkSasl && data.length > 0 && (data[0]! < 1 || data[0]! > 5)) {
        const shown = data.subarray(0, 40).toString('latin1').replace(/[^\x20-\x7e]+/g, ' ').trim();
        this.socket!.destroy(Object.assign(new Error(`the server did not answer with SASL (it sent ${JSON.stringify(shown)})`), { code: 'EPROTO' }));
        return;
      }
      listener(data);
    };
    this.wrapped.set(listener, checked);
    this.socket!.addListener(eventName, checked);
  }
  removeListener(eventName: string, listener: SocketListener): void {
    const actual = this.wrapped.get(listener) ?? listener;
    this.wrapped.delete(listener);
    this.socket!.removeListener(eventName, actual);
  }
  write(data: Buffer | string): void {
    this.socket!.write(data);
  }
  end(): void {
    this.socket?.end();
  }
  emit(eventName: string): void {
    this.socket?.emit(eventName);
  }
}

export class SocketConnectionProvider {
  private transport: SocketTransport | null = null;
  private connection: thrift.Connection | null = null;
  /** The first socket error, kept so a caller can say why the connection went away. */
  socketError: (Error & { code?: string }) | null = null;

  /** @param connectTimeoutMs how long the TCP connect may take before the socket is destroyed. */
  constructor(private readonly connectTimeoutMs: number) {}

  async connect(options: { host: string; port: number; options?: Record<string, unknown> }, authProvider: AuthProvider): Promise<this> {
    // A server that hangs up during authentication (e.g. SASL expected but NOSASL sent, or the
    // reverse) ends the wait at once instead of at the timeout.
    let closedEarly!: (e: Error) => void;
    const closed = new Promise<never>((_, reject) => (closedEarly = reject));
    closed.catch(() => {});
    let authenticating = true;
    const transport = new SocketTransport(options.host, options.port, (socket) => {
      // Keep a listener so an early error (before Thrift's own) is never an uncaught exception.
      socket.on('error', (e) => {
        this.socketError ??= e;
      });
      socket.once('close', () => {
        if (authenticating) closedEarly(this.socketError ?? Object.assign(new Error('the server closed the connection during authentication'), { code: 'ECLOSED' }));
      });
      const timer = setTimeout(() => {
        if (socket.connecting) {
          socket.destroy(Object.assign(new Error(`connect timed out after ${this.connectTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' }));
        }
      }, this.connectTimeoutMs);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    });
    this.transport = transport;
    let authenticated: SocketTransport;
    try {
      authenticated = await Promise.race([authProvider.authenticate(transport), closed]);
    } finally {
      authenticating = false;
      transport.checkSasl = false;
    }
    // As hive-driver's TcpConnection: Thrift framed (SASL) or buffered (NOSASL, set by the auth provider).
    const connection = new thrift.Connection(authenticated.getTransport()!, {
      transport: thrift.TFramedTransport,
      protocol: thrift.TBinaryProtocol,
      ...(options.options ?? {}),
      ...authenticated.getOptions(),
    });
    connection.host = options.host;
    connection.port = options.port;
    authenticated.emit('connect');
    this.connection = connection;
    return this;
  }

  getConnection(): thrift.Connection | null {
    return this.connection;
  }

  isConnected(): boolean {
    return this.connection?.connected ?? false;
  }

  /** Tear the socket down now (a timed-out call); harmless twice. */
  destroy(): void {
    this.transport?.socket?.destroy();
  }
}
