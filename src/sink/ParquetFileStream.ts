/**
 * One Parquet file written from a sequence of Arrow record batches, a row group at a time, through
 * parquet-wasm's streaming writer (`transformParquetStream`, arrow-rs's AsyncArrowWriter in
 * WebAssembly): batches go in as they are made, finished row groups come out as byte chunks that
 * are appended to the file. Memory stays at about one row group whatever the file's size.
 *
 * That API has sharp edges, which this class covers:
 * - It ignores errors: a batch it fails to convert or write is skipped, an error from the input
 *   stream ends it early, and a failure to write the footer is dropped; in each case the output
 *   simply ends and the file may even be valid, with rows missing. So `finish()` reads the row
 *   count back from the written footer and throws unless it is exactly the rows handed in.
 * - It needs a first batch before it starts (no batch at all is an error): callers write at least
 *   one batch, zero rows long if need be, before `finish()`.
 * - Its encoder runs in WebAssembly futures driven by the event loop, not by our calls: `write()`
 *   waits until the encoder has taken the previous batch (at most one batch waits), and gives up
 *   with an error if the encoder stops instead of hanging.
 */
import { openAsBlob } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { type RecordBatch, Table, tableToIPC } from 'apache-arrow';
import {
  ParquetFile,
  type RecordBatch as WasmRecordBatch,
  Table as WasmTable,
  transformParquetStream,
  type WriterProperties,
} from 'parquet-wasm';

/** A promise with its resolve function outside. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Copy an Arrow JS record batch into WebAssembly memory (through one IPC stream). */
function toWasmBatch(batch: RecordBatch): WasmRecordBatch {
  const table = WasmTable.fromIPCStream(tableToIPC(new Table(batch.schema, [batch]), 'stream'));
  try {
    const wasmBatch = table.recordBatch(0);
    if (wasmBatch === undefined) throw new Error('Arrow IPC round trip lost the record batch');
    return wasmBatch;
  } finally {
    table.free();
  }
}

/** Rows recorded in the footer of the Parquet file at `path` (reads only the footer). */
export async function parquetFileRowCount(path: string): Promise<number> {
  const file = await ParquetFile.fromFile(await openAsBlob(path));
  try {
    const metadata = file.metadata();
    const fileMetadata = metadata.fileMetadata();
    const rows = fileMetadata.numRows();
    fileMetadata.free();
    metadata.free();
    return rows;
  } finally {
    file.free();
  }
}

export class ParquetFileStream {
  private controller!: ReadableStreamDefaultController<WasmRecordBatch>;
  /** Resolved when the encoder asks for the next batch. */
  private demand = signal();
  /** Settles when the output has been written out completely (or failed). */
  private readonly pump: Promise<void>;
  /** Resolves (never rejects) once `pump` has settled either way. */
  private readonly stopped: Promise<'stopped'>;
  private bytes = 0;
  private batches = 0;
  private inputClosed = false;

  /**
   * Create the file at `path` (it must not exist) and start the encoder. `properties` is consumed.
   * The schema is the first batch's; every batch must have the same schema.
   */
  static async create(path: string, properties: WriterProperties): Promise<ParquetFileStream> {
    const file = await open(path, 'wx');
    return new ParquetFileStream(file, path, properties);
  }

  private constructor(
    private readonly file: FileHandle,
    readonly path: string,
    properties: WriterProperties,
  ) {
    const input = new ReadableStream<WasmRecordBatch>(
      {
        start: (controller) => void (this.controller = controller),
        pull: () => this.demand.resolve(),
      },
      { highWaterMark: 1 },
    );
    this.pump = this.writeOutput(transformParquetStream(input, properties));
    this.stopped = this.pump.then(
      () => 'stopped' as const,
      () => 'stopped' as const,
    );
  }

  private async writeOutput(output: Promise<ReadableStream<Uint8Array>>): Promise<void> {
    const reader = (await output).getReader();
    try {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        await this.file.write(chunk.value);
        this.bytes += chunk.value.byteLength;
      }
    } catch (error) {
      // Unblock the encoder (its writes now fail, and it ignores that) so its task can end.
      await reader.cancel(error).catch(() => undefined);
      throw error;
    }
  }

  /** Hand `batch` to the encoder once it is ready for it. Rejects if the encoder has stopped. */
  async write(batch: RecordBatch): Promise<void> {
    if (this.inputClosed) throw new Error(`write() after finish() or destroy() (${this.path})`);
    // Wait for demand, or for the output to end before the input did: the encoder gave up.
    const ready = await Promise.race([this.demand.promise.then(() => 'ready' as const), this.stopped]);
    if (ready === 'stopped') {
      await this.pump; // rethrows the output's error, if it has one
      throw new Error(`The Parquet encoder stopped before taking all batches (${this.path})`);
    }
    this.demand = signal();
    this.controller.enqueue(toWasmBatch(batch));
    this.batches++;
  }

  /**
   * End the input, wait for the footer to be written, close the file and check that its footer
   * counts exactly `expectedRows` rows. Resolves with the file's size in bytes.
   */
  async finish(expectedRows: number): Promise<number> {
    if (this.batches === 0) throw new Error(`finish() needs at least one batch, even an empty one (${this.path})`);
    this.closeInput();
    try {
      await this.pump;
    } finally {
      await this.file.close();
    }
    const rows = await parquetFileRowCount(this.path);
    if (rows !== expectedRows) {
      throw new Error(`Parquet file ${this.path} holds ${rows} rows, expected ${expectedRows}: the encoder dropped some`);
    }
    return this.bytes;
  }

  /** Stop the encoder and close the file (left in place for the caller to remove). Never throws. */
  async destroy(): Promise<void> {
    this.closeInput();
    await this.pump.catch(() => undefined);
    await this.file.close().catch(() => undefined);
  }

  private closeInput(): void {
    if (this.inputClosed) return;
    this.inputClosed = true;
    try {
      this.controller.close();
    } catch {
      // Already closed or errored by the consumer: nothing left to end.
    }
  }
}
