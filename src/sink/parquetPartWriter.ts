/**
 * The PartWriter (see `PartWriter.ts` for the contract) that the sink uses: result rows → Arrow
 * record batches built straight from typed arrays (`ResultBatchBuilder`) → parquet-wasm (arrow-rs's
 * Parquet writer compiled to WebAssembly), streamed a row group at a time (`ParquetFileStream`) into
 * a hidden temporary file → footer checked → renamed to the part's path.
 *
 * Why this writer (bench/RESULTS.md, "Parquet sink", has the figures from `bench/benchSink.ts`):
 * on one core it beat DuckDB's own writer fed through the appender (per-value list objects, or even
 * raw data chunks with each embedding copied in as bytes), Arrow JS's row-by-row builders, and
 * parquet-wasm with its default settings, for classification and embedding rows alike. Streaming
 * row groups costs at most ~12% CPU against encoding the whole part in one `writeParquet` call
 * (within the benchmark's noise) and keeps memory at about a row group instead of several times the
 * part: the whole-file call needs the table, the growing output buffer and its copy in memory at
 * once (396 MB of WebAssembly heap for a 10k × 2048-float part, against 139 MB), and the heap keeps
 * that high-water mark for the life of the thread.
 *
 * Settings (bench/benchSink.ts also measures parquet-wasm's own defaults against them):
 * - Snappy compression: classification parts ~3× smaller than uncompressed; on float data that
 *   does not compress snappy gives up quickly (up to ~10% more CPU, 1% smaller), and
 *   `compression: 'uncompressed'` is there for embedding-only tables. zstd is optional: ~11%
 *   smaller embedding parts for ~4× the CPU.
 * - Dictionary encoding and statistics are OFF by default and switched on only for top-level
 *   columns that profit. parquet-wasm 0.8 cannot address a nested leaf such as
 *   `embedding.list.element` by name (its per-column setters turn the whole string into a single
 *   path segment, so such a setting silently matches nothing); turning them off globally is the
 *   only way to keep the dictionary attempt and min/max statistics off the embedding values.
 * - Row groups of at most `rowGroupBytes` (32 MiB, as arrow-rs counts it: encoded and compressed):
 *   a classification part is one row group; about 4k rows of incompressible 2048-float embeddings
 *   make one.
 *
 * parquet-wasm is imported by its bare name: in Node the package's `node` export condition picks
 * its CommonJS build, which compiles and instantiates the .wasm synchronously, once per thread, when
 * this module is first imported; no init call is needed.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Compression, EnabledStatistics, type WriterProperties, WriterPropertiesBuilder } from 'parquet-wasm';
import type { PartWriter, PartWriterFactory, PartWriteResult } from './PartWriter.js';
import { ParquetFileStream } from './ParquetFileStream.js';
import { ResultBatchBuilder } from './ResultBatchBuilder.js';
import type { ResultRow } from './resultRow.js';

export type ParquetCompression = 'snappy' | 'zstd' | 'uncompressed';

export interface ParquetPartWriterOptions {
  /** Codec for every column (default `snappy`). */
  compression?: ParquetCompression;
  /** Rows per Arrow record batch handed to the encoder (default 1024). */
  batchRows?: number;
  /** Target row-group size in bytes, encoded and compressed (default 32 MiB). */
  rowGroupBytes?: number;
}

const DEFAULTS = {
  compression: 'snappy',
  batchRows: 1024,
  rowGroupBytes: 32 * 1024 * 1024,
} as const satisfies Required<ParquetPartWriterOptions>;

/** Embedding bytes after which a batch is handed over even before `batchRows` (wide embeddings). */
const BATCH_EMBEDDING_BYTES = 8 * 1024 * 1024;
/** Row cap per row group; DuckDB's own default, far above any partition. */
const MAX_ROW_GROUP_ROWS = 122_880;
/** Low-cardinality top-level columns that get a dictionary (values repeat across the part). */
const DICTIONARY_COLUMNS = ['status', 'error', 'label', 'run_id'];
/** Top-level columns with chunk min/max statistics, for readers that prune row groups. */
const STATISTICS_COLUMNS = ['image_name', 'page_id', 'status', 'error', 'label', 'score', 'width', 'height', 'processed_at'];

const CODECS: Record<ParquetCompression, Compression> = {
  snappy: Compression.SNAPPY,
  zstd: Compression.ZSTD,
  uncompressed: Compression.UNCOMPRESSED,
};

/** The writer properties for one file (parquet-wasm consumes them: build one per file). */
export function parquetWriterProperties(options: ParquetPartWriterOptions = {}): WriterProperties {
  const { compression, rowGroupBytes } = { ...DEFAULTS, ...options };
  let builder = new WriterPropertiesBuilder()
    .setCompression(CODECS[compression])
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(EnabledStatistics.None)
    .setMaxRowGroupBytes(rowGroupBytes)
    .setMaxRowGroupSize(MAX_ROW_GROUP_ROWS);
  for (const column of DICTIONARY_COLUMNS) builder = builder.setColumnDictionaryEnabled(column, true);
  for (const column of STATISTICS_COLUMNS) builder = builder.setColumnStatisticsEnabled(column, EnabledStatistics.Chunk);
  return builder.build();
}

type State = 'open' | 'closing' | 'closed' | 'failed' | 'aborted';

export class ParquetPartWriter implements PartWriter {
  readonly path: string;
  private readonly tempPath: string;
  private readonly options: Required<ParquetPartWriterOptions>;
  private builder: ResultBatchBuilder;
  /** Created with the first batch handed over (so an early abort leaves nothing to remove). */
  private stream: ParquetFileStream | null = null;
  private rowCount = 0;
  private state: State = 'open';
  /** The write or close in progress, which abort waits for. */
  private busy: Promise<unknown> | null = null;

  constructor(path: string, options: ParquetPartWriterOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
    if (!Number.isInteger(this.options.batchRows) || this.options.batchRows < 1) {
      throw new RangeError(`batchRows must be a positive integer, got ${this.options.batchRows}`);
    }
    this.path = path;
    // Hidden (leading dot) and not ending in .parquet: invisible to Hive, Spark and *.parquet globs.
    this.tempPath = join(dirname(path), `.${basename(path)}.${randomUUID().slice(0, 8)}.tmp`);
    this.builder = this.newBuilder();
  }

  write(rows: readonly ResultRow[]): Promise<void> {
    return this.run('write', async () => {
      for (const row of rows) {
        this.builder.append(row);
        this.rowCount++;
        if (this.builder.full) await this.handOver();
      }
    });
  }

  close(): Promise<PartWriteResult> {
    return this.run('close', async () => {
      this.state = 'closing';
      // A zero-row part still needs one (empty) batch, so the file carries the schema.
      if (this.builder.length > 0 || this.stream === null) await this.handOver();
      const bytes = await this.stream!.finish(this.rowCount);
      await rename(this.tempPath, this.path);
      this.state = 'closed';
      return { path: this.path, rows: this.rowCount, bytes };
    });
  }

  async abort(): Promise<void> {
    if (this.busy) await this.busy.catch(() => undefined);
    this.state = 'aborted';
    await this.stream?.destroy();
    await rm(this.tempPath, { force: true }).catch(() => undefined);
    await rm(this.path, { force: true }).catch(() => undefined);
  }

  /** Run one call: refuse it unless open and idle; any error fails the writer. */
  private run<T>(call: 'write' | 'close', body: () => Promise<T>): Promise<T> {
    if (this.state !== 'open') return Promise.reject(new Error(`${call}() on a ${this.state} part writer (${this.path})`));
    if (this.busy) return Promise.reject(new Error(`${call}() while a write() is still running: await it first (${this.path})`));
    const work = body().then(
      (value) => {
        this.busy = null;
        return value;
      },
      (error: unknown) => {
        this.busy = null;
        if (this.state !== 'aborted') this.state = 'failed';
        throw error;
      },
    );
    this.busy = work;
    return work;
  }

  /** Finish the current batch and give it to the encoder (waits while the encoder is busy). */
  private async handOver(): Promise<void> {
    const batch = this.builder.finish();
    this.builder = this.newBuilder();
    if (this.stream === null) {
      await mkdir(dirname(this.path), { recursive: true });
      this.stream = await ParquetFileStream.create(this.tempPath, parquetWriterProperties(this.options));
    }
    await this.stream.write(batch);
  }

  private newBuilder(): ResultBatchBuilder {
    return new ResultBatchBuilder(this.options.batchRows, BATCH_EMBEDDING_BYTES);
  }
}

/** A writer for one partition attempt, writing to `path` (see `PartWriter`). */
export function createParquetPartWriter(path: string, options: ParquetPartWriterOptions = {}): ParquetPartWriter {
  return new ParquetPartWriter(path, options);
}

/** The factory the executor is given: same options for every part. */
export function parquetPartWriterFactory(options: ParquetPartWriterOptions = {}): PartWriterFactory {
  return (path) => new ParquetPartWriter(path, options);
}
