/**
 * The few parts of the `thrift` package (Apache Thrift's Node.js library, a dependency of
 * hive-driver) that imgpipe uses directly: the client connection over a socket, and (in tests) the
 * server with its transports. The package ships no types of its own.
 */
declare module 'thrift' {
  import type { EventEmitter } from 'node:events';
  import type { Server } from 'node:net';
  import type { Duplex } from 'node:stream';

  namespace thrift {
    class Connection extends EventEmitter {
      constructor(stream: Duplex, options: Record<string, unknown>);
      connected: boolean;
      host?: string;
      port?: number;
      end(): void;
      destroy(): void;
    }
    const TFramedTransport: unknown;
    const TBufferedTransport: unknown;
    const TBinaryProtocol: unknown;
    function createServer(service: unknown, handler: object, options?: { transport?: unknown; protocol?: unknown }): Server;
  }
  export = thrift;
}
