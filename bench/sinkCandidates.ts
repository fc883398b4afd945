/**
 * The part writers `benchSink.ts` compares: the sink's chosen writer (`ParquetPartWriter`) in its
 * settings, and the alternatives it was chosen over. Only the benchmark uses the alternatives.
 *
 * Every candidate writes the same rows to a Parquet file with the contract's columns and types
 * (DuckDB candidates through a table declared with the contract's DuckDB types).
 */
import { rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import {
  DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  DuckDBVector,
  FLOAT,
  LIST,
  listValue,
  STRUCT,
  structValue,
  timestampValue,
  VARCHAR,
  type DuckDBAppender,
  type DuckDBValue,
} from '@duckdb/node-api';
import {
  type Builder,
  makeBuilder,
  makeData,
  type RecordBatch,
  RecordBatch as ArrowRecordBatch,
  Struct,
  Table,
  tableToIPC,
} from 'apache-arrow';
import {
  Compression,
  EnabledStatistics,
  Table as WasmTable,
  type WriterProperties,
  WriterPropertiesBuilder,
  writeParquet,
} from 'parquet-wasm';
import {
  createParquetPartWriter,
  parquetWriterProperties,
  type ParquetPartWriterOptions,
} from '../src/sink/parquetPartWriter.js';
import { ParquetFileStream } from '../src/sink/ParquetFileStream.js';
import { ResultBatchBuilder } from '../src/sink/ResultBatchBuilder.js';
import { RESULT_ARROW_SCHEMA } from '../src/sink/resultArrowSchema.js';
import type { ResultRow } from '../src/sink/resultRow.js';

/** One part file being written: `write` any number of times, then `close`. */
export interface CandidateWriter {
  write(rows: readonly ResultRow[]): void | Promise<void>;
  close(): Promise<{ bytes: number }>;
}

export interface SinkCandidate {
  /** Short stable name (used to filter and in the JSON). */
  name: string;
  /** What it does, for the table. */
  description: string;
  /** Too slow to run over the full row count: the bench gives it `slowRows` rows, once. */
  slow?: boolean;
  open(path: string): CandidateWriter | Promise<CandidateWriter>;
  dispose?(): void;
}

/** The sink's own writer with the given options. */
export function parquetWasmCandidate(name: string, description: string, options: ParquetPartWriterOptions): SinkCandidate {
  return { name, description, open: (path) => createParquetPartWriter(path, options) };
}

/**
 * The sink writer's batches (1,024 rows, or 8 MiB of embeddings, as `ParquetPartWriter` hands them
 * over) streamed a row group at a time by the same `ParquetFileStream`, straight to `path` (no
 * temporary file and rename), with writer properties of the bench's choosing.
 */
function streamedCandidate(name: string, description: string, properties: () => WriterProperties): SinkCandidate {
  return {
    name,
    description,
    async open(path) {
      const stream = await ParquetFileStream.create(path, properties());
      let builder = new ResultBatchBuilder(1024, 8 * 1024 * 1024);
      let rows = 0;
      const handOver = async () => {
        const batch = builder.finish();
        builder = new ResultBatchBuilder(1024, 8 * 1024 * 1024);
        await stream.write(batch);
      };
      return {
        async write(part) {
          for (const row of part) {
            builder.append(row);
            rows++;
            if (builder.full) await handOver();
          }
        },
        async close() {
          if (builder.length > 0 || rows === 0) await handOver();
          return { bytes: await stream.finish(rows) };
        },
      };
    },
  };
}

/**
 * parquet-wasm's default writer properties, untouched: no compression, dictionary and page
 * statistics on every column, 1M-row row groups. What the sink's settings are measured against.
 */
export function parquetWasmDefaultsCandidate(): SinkCandidate {
  return streamedCandidate(
    'pw-defaults',
    'same batches and streaming, parquet-wasm default properties (uncompressed, dictionary + page statistics everywhere)',
    () => new WriterPropertiesBuilder().build(),
  );
}

/**
 * Record batches → the bytes of one Parquet file in a single `writeParquet` call: the whole part
 * in WebAssembly memory at once (table, output buffer), the alternative to streaming row groups.
 */
function encodeParquet(batches: readonly RecordBatch[], properties: WriterProperties): Uint8Array {
  const wasmTable = WasmTable.fromIPCStream(tableToIPC(new Table(RESULT_ARROW_SCHEMA, [...batches]), 'stream'));
  return writeParquet(wasmTable, properties);
}

/** Columnar batches from `ResultBatchBuilder`, encoded whole at close with the given properties. */
function batchesToFile(path: string, properties: () => WriterProperties): CandidateWriter {
  const batches: RecordBatch[] = [];
  return {
    write(rows) {
      for (let i = 0; i < rows.length; i += 1024) {
        const builder = new ResultBatchBuilder(1024);
        for (const row of rows.slice(i, i + 1024)) builder.append(row);
        batches.push(builder.finish());
      }
    },
    async close() {
      const bytes = encodeParquet(batches, properties());
      await writeFile(path, bytes);
      return { bytes: bytes.byteLength };
    },
  };
}

/** The chosen writer's batches and settings, but the whole part encoded in one call at close. */
export function parquetWasmWholeFileCandidate(): SinkCandidate {
  return {
    name: 'pw-whole-file',
    description: 'same batches and settings, whole part encoded by one writeParquet call at close',
    open: (path) => batchesToFile(path, () => parquetWriterProperties()),
  };
}

/**
 * Snappy, with dictionary and statistics switched off for the embedding by its dotted path, the
 * way parquet-wasm's per-column setters suggest. They match nothing for a nested leaf in
 * parquet-wasm 0.8 (the whole string becomes one path segment), so this measures snappy with
 * dictionary and page statistics still on for every column.
 */
export function parquetWasmNamedColumnCandidate(): SinkCandidate {
  const properties = () => {
    let builder = new WriterPropertiesBuilder().setCompression(Compression.SNAPPY);
    for (const column of ['embedding.list.element', 'embedding.list.item', 'embedding']) {
      builder = builder
        .setColumnDictionaryEnabled(column, false)
        .setColumnStatisticsEnabled(column, EnabledStatistics.None);
    }
    return builder.build();
  };
  return {
    name: 'pw-snappy-by-name',
    description: "parquet-wasm, snappy, dictionary/statistics off 'by name' for embedding.list.element (no effect)",
    open: (path) => batchesToFile(path, properties),
  };
}

/** Arrow JS's own row-by-row builders (`makeBuilder`), then the tuned parquet-wasm settings. */
export function arrowBuildersCandidate(): SinkCandidate {
  return {
    name: 'arrow-builders',
    description: "Arrow JS row builders (makeBuilder, per-value appends), parquet-wasm tuned snappy",
    open(path) {
      const batches: RecordBatch[] = [];
      return {
        write(rows) {
          const builders: Builder[] = RESULT_ARROW_SCHEMA.fields.map((field) =>
            makeBuilder({ type: field.type, nullValues: [null] }),
          );
          const names = RESULT_ARROW_SCHEMA.fields.map((field) => field.name as keyof ResultRow);
          for (const row of rows) {
            // The detector columns are optional in ResultRow: absent is null.
            names.forEach((name, i) => builders[i]!.append(row[name] ?? null));
          }
          const children = builders.map((builder) => builder.finish().flush());
          const data = makeData({ type: new Struct(RESULT_ARROW_SCHEMA.fields), length: rows.length, nullCount: 0, children });
          batches.push(new ArrowRecordBatch(RESULT_ARROW_SCHEMA, data));
        },
        async close() {
          const bytes = encodeParquet(batches, parquetWriterProperties());
          await writeFile(path, bytes);
          return { bytes: bytes.byteLength };
        },
      };
    },
  };
}

const PART_TABLE_DDL = `CREATE TABLE part (
  image_name VARCHAR, page_id BIGINT, sha1 VARCHAR, status VARCHAR, error VARCHAR, label VARCHAR,
  score FLOAT, top_k STRUCT(label VARCHAR, score FLOAT)[], embedding FLOAT[], width INTEGER,
  height INTEGER, run_id VARCHAR, processed_at TIMESTAMP,
  detections STRUCT(label VARCHAR, score FLOAT, x FLOAT, y FLOAT, w FLOAT, h FLOAT)[], keypoints FLOAT[][],
  count INTEGER, max_area_ratio FLOAT, sum_area_ratio FLOAT)`;

/** An in-memory DuckDB on one thread with the `part` table; each part: append, COPY, DELETE. */
async function duckdbPartTable(): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  await connection.run(PART_TABLE_DDL);
  return { instance, connection };
}

async function copyPartTo(connection: DuckDBConnection, path: string): Promise<{ bytes: number }> {
  await connection.run(`COPY part TO '${path.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION snappy)`);
  await connection.run('DELETE FROM part');
  return { bytes: (await stat(path)).size };
}

const TOP_K_DUCKDB = LIST(STRUCT({ label: VARCHAR, score: FLOAT }));
const EMBEDDING_DUCKDB = LIST(FLOAT);
const DETECTIONS_DUCKDB = LIST(STRUCT({ label: VARCHAR, score: FLOAT, x: FLOAT, y: FLOAT, w: FLOAT, h: FLOAT }));
const KEYPOINTS_DUCKDB = LIST(LIST(FLOAT));

/** DuckDB's appender through @duckdb/node-api's public API: one value object per list element. */
export async function duckdbAppenderValuesCandidate(): Promise<SinkCandidate> {
  const { instance, connection } = await duckdbPartTable();
  const appendNullable = (appender: DuckDBAppender, value: unknown, append: () => void) =>
    value === null ? appender.appendNull() : append();
  return {
    name: 'duckdb-appender',
    description: 'DuckDB appender, public API (list/struct values per row), COPY TO parquet (1 thread)',
    slow: true,
    async open(path) {
      const appender = await connection.createAppender('part');
      return {
        write(rows) {
          for (const row of rows) {
            appender.appendVarchar(row.image_name);
            appendNullable(appender, row.page_id, () => appender.appendBigInt(row.page_id!));
            appendNullable(appender, row.sha1, () => appender.appendVarchar(row.sha1!));
            appender.appendVarchar(row.status);
            appendNullable(appender, row.error, () => appender.appendVarchar(row.error!));
            appendNullable(appender, row.label, () => appender.appendVarchar(row.label!));
            appendNullable(appender, row.score, () => appender.appendFloat(row.score!));
            appendNullable(appender, row.top_k, () =>
              appender.appendList(
                listValue(row.top_k!.map((e) => structValue({ label: e.label, score: e.score }))),
                TOP_K_DUCKDB,
              ),
            );
            appendNullable(appender, row.embedding, () =>
              appender.appendList(listValue(Array.from(row.embedding!) as DuckDBValue[]), EMBEDDING_DUCKDB),
            );
            appendNullable(appender, row.width, () => appender.appendInteger(row.width!));
            appendNullable(appender, row.height, () => appender.appendInteger(row.height!));
            appender.appendVarchar(row.run_id);
            appender.appendTimestamp(timestampValue(BigInt(row.processed_at) * 1000n));
            const detections = row.detections ?? null;
            const keypoints = row.keypoints ?? null;
            appendNullable(appender, detections, () =>
              appender.appendList(listValue(detections!.map((d) => structValue({ label: d.label, score: d.score, x: d.x, y: d.y, w: d.w, h: d.h }))), DETECTIONS_DUCKDB),
            );
            appendNullable(appender, keypoints, () =>
              appender.appendList(listValue(keypoints!.map((k) => listValue(Array.from(k) as DuckDBValue[]))), KEYPOINTS_DUCKDB),
            );
            appendNullable(appender, row.count ?? null, () => appender.appendInteger(row.count!));
            appendNullable(appender, row.max_area_ratio ?? null, () => appender.appendFloat(row.max_area_ratio!));
            appendNullable(appender, row.sum_area_ratio ?? null, () => appender.appendFloat(row.sum_area_ratio!));
            appender.endRow();
          }
        },
        async close() {
          appender.closeSync();
          return copyPartTo(connection, path);
        },
      };
    },
    dispose() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

type RawChunk = DuckDBDataChunk['chunk'];
type RawVector = Parameters<typeof DuckDBVector.create>[0];

/** The few functions of DuckDB's C API (`@duckdb/node-bindings`) that `duckdbDataChunkCandidate` calls. */
interface DuckDBCApi {
  vector_size(): number;
  data_chunk_get_vector(chunk: RawChunk, columnIndex: number): RawVector;
  vector_ensure_validity_writable(vector: RawVector): void;
  vector_assign_string_element(vector: RawVector, index: number, value: string): void;
  list_vector_get_child(vector: RawVector): RawVector;
  list_vector_set_size(vector: RawVector, size: number): void;
  list_vector_reserve(vector: RawVector, capacity: number): void;
  struct_vector_get_child(vector: RawVector, index: number): RawVector;
  copy_data_to_vector(target: RawVector, targetByteOffset: number, source: ArrayBuffer, sourceByteOffset: number, byteCount: number): void;
  copy_data_to_vector_validity(target: RawVector, targetByteOffset: number, source: ArrayBuffer, sourceByteOffset: number, byteCount: number): void;
}

/**
 * The C API bindings that @duckdb/node-api itself loads, resolved from node-api's own folder: not
 * a dependency of this project, and always the very module (and native library) whose chunk and
 * vector handles node-api hands out; a second copy would reject them.
 */
function duckdbCApi(): DuckDBCApi {
  const nodeApi = createRequire(import.meta.url).resolve('@duckdb/node-api');
  return createRequire(nodeApi)('@duckdb/node-bindings') as DuckDBCApi;
}

/**
 * DuckDB fed with raw data chunks through the C API under @duckdb/node-api (`duckdbCApi`): strings
 * assigned one call each, numbers, validity and each embedding copied into the vectors as bytes
 * (`copy_data_to_vector`), then COPY TO parquet. The fastest way into DuckDB from Node found;
 * validity must be copied in too (`vector_get_validity` returns a copy). node-api's public vectors
 * take one value object per list element (the `duckdb-appender` candidate's cost).
 */
export async function duckdbDataChunkCandidate(): Promise<SinkCandidate> {
  const { instance, connection } = await duckdbPartTable();
  const db = duckdbCApi();
  const vectorSize = db.vector_size();
  type Vector = RawVector;

  /** Validity words for one chunk, all valid until `invalidate`; copied in by `flush`. */
  const validity = () => {
    let bits: Uint8Array | null = null;
    return {
      invalidate(i: number) {
        bits ??= new Uint8Array(vectorSize / 8).fill(0xff);
        bits[i >> 3]! &= ~(1 << (i & 7));
      },
      flush(vector: Vector) {
        if (!bits) return;
        db.vector_ensure_validity_writable(vector);
        db.copy_data_to_vector_validity(vector, 0, bits.buffer as ArrayBuffer, 0, bits.byteLength);
      },
    };
  };
  const strings = (vector: Vector, values: (string | null)[]) => {
    const v = validity();
    values.forEach((s, i) => (s === null ? v.invalidate(i) : db.vector_assign_string_element(vector, i, s)));
    v.flush(vector);
  };
  const numbers = <A extends Float32Array | Int32Array | BigInt64Array>(vector: Vector, out: A, values: (A[number] | null)[]) => {
    const v = validity();
    values.forEach((x, i) => (x === null ? v.invalidate(i) : (out[i] = x)));
    db.copy_data_to_vector(vector, 0, out.buffer as ArrayBuffer, 0, out.byteLength);
    v.flush(vector);
  };
  /** List offsets/lengths (uint64 pairs) for a chunk, and reserve + size the child. */
  const listEntries = (vector: Vector, lengths: (number | null)[]) => {
    const entries = new BigUint64Array(lengths.length * 2);
    const v = validity();
    let total = 0;
    lengths.forEach((n, i) => {
      entries[2 * i] = BigInt(total);
      entries[2 * i + 1] = BigInt(n ?? 0);
      if (n === null) v.invalidate(i);
      total += n ?? 0;
    });
    db.list_vector_reserve(vector, total);
    db.list_vector_set_size(vector, total);
    db.copy_data_to_vector(vector, 0, entries.buffer, 0, entries.byteLength);
    v.flush(vector);
    return db.list_vector_get_child(vector);
  };

  const fillChunk = (chunk: DuckDBDataChunk, rows: readonly ResultRow[]) => {
    const n = rows.length;
    const vec = (i: number) => db.data_chunk_get_vector(chunk.chunk, i);
    strings(vec(0), rows.map((r) => r.image_name));
    numbers(vec(1), new BigInt64Array(n), rows.map((r) => r.page_id));
    strings(vec(2), rows.map((r) => r.sha1));
    strings(vec(3), rows.map((r) => r.status));
    strings(vec(4), rows.map((r) => r.error));
    strings(vec(5), rows.map((r) => r.label));
    numbers(vec(6), new Float32Array(n), rows.map((r) => r.score));
    const topK = listEntries(vec(7), rows.map((r) => r.top_k?.length ?? null));
    const entries = rows.flatMap((r) => r.top_k ?? []);
    strings(db.struct_vector_get_child(topK, 0), entries.map((e) => e.label));
    if (entries.length > 0) numbers(db.struct_vector_get_child(topK, 1), new Float32Array(entries.length), entries.map((e) => e.score));
    const embedding = listEntries(vec(8), rows.map((r) => r.embedding?.length ?? null));
    let at = 0;
    for (const row of rows) {
      const e = row.embedding;
      if (e === null) continue;
      db.copy_data_to_vector(embedding, at * 4, e.buffer as ArrayBuffer, e.byteOffset, e.byteLength);
      at += e.length;
    }
    numbers(vec(9), new Int32Array(n), rows.map((r) => r.width));
    numbers(vec(10), new Int32Array(n), rows.map((r) => r.height));
    strings(vec(11), rows.map((r) => r.run_id));
    numbers(vec(12), new BigInt64Array(n), rows.map((r) => BigInt(r.processed_at) * 1000n));
    // Detector columns: the workloads have no detector rows, so only their nulls are written.
    if (rows.some((r) => r.detections || r.keypoints)) throw new Error('duckdb-chunks writes no detections or keypoints (the sink workloads have none)');
    listEntries(vec(13), rows.map(() => null));
    listEntries(vec(14), rows.map(() => null));
    numbers(vec(15), new Int32Array(n), rows.map((r) => r.count ?? null));
    numbers(vec(16), new Float32Array(n), rows.map((r) => r.max_area_ratio ?? null));
    numbers(vec(17), new Float32Array(n), rows.map((r) => r.sum_area_ratio ?? null));
    chunk.rowCount = n;
  };

  return {
    name: 'duckdb-chunks',
    description: 'DuckDB data chunks via the C API (float child buffer copied per row), COPY TO parquet (1 thread)',
    async open(path) {
      const appender = await connection.createAppender('part');
      const types = Array.from({ length: appender.columnCount }, (_, i) => appender.columnType(i));
      return {
        write(rows) {
          for (let i = 0; i < rows.length; i += vectorSize) {
            const chunk = DuckDBDataChunk.create(types);
            fillChunk(chunk, rows.slice(i, i + vectorSize));
            appender.appendDataChunk(chunk);
          }
        },
        async close() {
          appender.closeSync();
          return copyPartTo(connection, path);
        },
      };
    },
    dispose() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** Remove a candidate's part file after measuring it (bounded disk use). */
export const removePart = (path: string) => rm(path, { force: true });
