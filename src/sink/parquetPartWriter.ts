/**
 * The PartWriter (see `PartWriter.ts` for the contract) that the sink uses: result rows → Arrow
 * record batches built straight from typed arrays (`ResultBatchBuilder`) → one Arrow IPC stream →
 * parquet-wasm (arrow-rs's Parquet writer compiled to WebAssembly) → a hidden temporary file →
 * renamed to the part's path.
 *
 * Why this writer (bench/RESULTS.md, "Parquet sink", has the figures from `scripts/benchSink.ts`):
 * on one core it beat DuckDB's own writer fed through the appender (per-value list objects, or even
 * raw data chunks with the float child buffer copied in one go) and parquet-wasm with its default
 * settings, for classification and embedding rows alike.
 *
 * Settings ("tuned", the default profile):
 * - Snappy compression: as fast as none on float data that does not compress (snappy gives up on
 *   it quickly), ~6× smaller classification parts. zstd is optional: ~10% smaller embedding parts
 *   for several times the CPU.
 * - Dictionary encoding and statistics are OFF by default and switched on only for top-level
 *   columns that profit. parquet-wasm 0.8 cannot address a nested leaf such as
 *   `embedding.list.element` by name (its per-column setters turn the whole string into a single
 *   path segment, so such a setting silently matches nothing); turning them off globally is the
 *   only way to keep the dictionary attempt and min/max statistics off the embedding values.
 * - Row groups of at most `rowGroupBytes` (32 MiB): a classification part is one row group, a
 *   10k × 2048-float part three.
 *
 * Memory: rows are copied into Arrow buffers as they arrive, sealed into a record batch every
 * `batchRows` rows or 8 MiB of embedding values, so no buffer is re-grown beyond a batch and no row
 * object is kept. The file itself is encoded in one `writeParquet` call at `close()`: parquet-wasm's
 * only incremental writer (`transformParquetStream`) drops write errors and record batches that
 * fail to convert without telling the caller (it would commit short files) and cannot write a
 * zero-row file, so row groups are cut inside that one call instead. Peak memory at close is about
 * 3× the part's data (Arrow buffers + IPC copy + WebAssembly copy); the WebAssembly heap keeps its
 * high-water mark (≈ 2× the largest part) for the life of the thread.
 *
 * parquet-wasm is imported by its bare name: in Node the package's `node` export condition picks
 * its CommonJS build, which compiles and instantiates the .wasm synchronously, once per thread, when
 * this module is first imported; no init call is needed.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type RecordBatch, Table, tableToIPC } from 'apache-arrow';
import {
  Compression,
  EnabledStatistics,
  Table as WasmTable,
  type WriterProperties,
  WriterPropertiesBuilder,
  writeParquet,
} from 'parquet-wasm';
import type { PartWriter, PartWriterFactory, PartWriteResult } from './PartWriter.js';
import { ResultBatchBuilder } from './ResultBatchBuilder.js';
import { RESULT_ARROW_SCHEMA } from './resultArrowSchema.js';
import type { ResultRow } from './resultRow.js';

export type ParquetCompression = 'snappy' | 'zstd' | 'uncompressed';

export interface ParquetPartWriterOptions {
  /** Codec for every column (default `snappy`); ignored by the `library-defaults` profile. */
  compression?: ParquetCompression;
  /**
   * `tuned` (default): the settings above. `library-defaults`: parquet-wasm's defaults untouched
   * (no compression, dictionary and page statistics on every column, 1M-row row groups); kept for
   * the benchmark's comparison.
   */
  profile?: 'tuned' | 'library-defaults';
  /** Rows per Arrow record batch held in memory (default 1024). */
  batchRows?: number;
  /** Target row-group size in bytes (default 32 MiB). */
  rowGroupBytes?: number;
}

const DEFAULTS = {
  compression: 'snappy',
  profile: 'tuned',
  batchRows: 1024,
  rowGroupBytes: 32 * 1024 * 1024,
} as const satisfies Required<ParquetPartWriterOptions>;

/** Embedding bytes after which a batch is sealed even before `batchRows` (wide embeddings). */
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

/** The writer properties for one file (parquet-wasm consumes them in `writeParquet`). */
export function parquetWriterProperties(options: ParquetPartWriterOptions = {}): WriterProperties {
  const { compression, profile, rowGroupBytes } = { ...DEFAULTS, ...options };
  if (profile === 'library-defaults') return new WriterPropertiesBuilder().build();
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

/**
 * Record batches of the result schema → the bytes of one Parquet file (synchronous, CPU only).
 * `properties` is consumed (parquet-wasm frees it), so build a fresh one per file.
 */
export function encodeParquet(batches: readonly RecordBatch[], properties: WriterProperties): Uint8Array {
  // The IPC bytes are garbage as soon as the WebAssembly copy exists.
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(new Table(RESULT_ARROW_SCHEMA, [...batches]), 'stream'));
  return writeParquet(wasmTable, properties);
}

type State = 'open' | 'closing' | 'closed' | 'failed' | 'aborted';

export class ParquetPartWriter implements PartWriter {
  readonly path: string;
  private readonly tempPath: string;
  private readonly options: Required<ParquetPartWriterOptions>;
  private batches: RecordBatch[] = [];
  private builder: ResultBatchBuilder;
  private rowCount = 0;
  private state: State = 'open';
  private closing: Promise<PartWriteResult> | null = null;

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

  write(rows: readonly ResultRow[]): void {
    if (this.state !== 'open') throw new Error(`write() on a ${this.state} part writer (${this.path})`);
    try {
      for (const row of rows) {
        this.builder.append(row);
        this.rowCount++;
        if (this.builder.full) this.seal();
      }
    } catch (error) {
      this.state = 'failed';
      throw error;
    }
  }

  close(): Promise<PartWriteResult> {
    if (this.state !== 'open') return Promise.reject(new Error(`close() on a ${this.state} part writer (${this.path})`));
    this.state = 'closing';
    this.closing = this.writeFile().then(
      (result) => {
        this.state = 'closed';
        return result;
      },
      (error: unknown) => {
        this.state = 'failed';
        throw error;
      },
    );
    return this.closing;
  }

  async abort(): Promise<void> {
    if (this.closing) await this.closing.catch(() => undefined);
    this.state = 'aborted';
    this.batches = [];
    await rm(this.tempPath, { force: true }).catch(() => undefined);
    await rm(this.path, { force: true }).catch(() => undefined);
  }

  private seal(): void {
    this.batches.push(this.builder.finish());
    this.builder = this.newBuilder();
  }

  private newBuilder(): ResultBatchBuilder {
    return new ResultBatchBuilder(this.options.batchRows, BATCH_EMBEDDING_BYTES);
  }

  private async writeFile(): Promise<PartWriteResult> {
    // A zero-row part still needs one (empty) batch, so the file carries the schema.
    if (this.builder.length > 0 || this.batches.length === 0) this.seal();
    const batches = this.batches;
    this.batches = [];
    const bytes = encodeParquet(batches, parquetWriterProperties(this.options));
    batches.length = 0;
    await mkdir(dirname(this.path), { recursive: true });
    await writeFile(this.tempPath, bytes, { flag: 'wx' });
    await rename(this.tempPath, this.path);
    return { path: this.path, rows: this.rowCount, bytes: bytes.byteLength };
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
