/**
 * A part writer factory whose writers report the root cause of a failed write: a write or close that
 * rejects is classified by `diagnoseWriteFailure` *before* the caller aborts the writer (which removes
 * the partial file and frees its space), so a short write on a full disk reads "No space left on
 * device (ENOSPC) writing <file>" and not "Corrupt footer". Everything else passes through unchanged.
 * Wraps the TaskContext's factory in both executors (`runPartition` itself is not changed).
 */
import type { PartWriter, PartWriterFactory } from '../sink/PartWriter.js';
import { diagnoseWriteFailure } from '../util/infraErrors.js';

export function withWriteDiagnosis(inner: PartWriterFactory): PartWriterFactory {
  return (file): PartWriter => {
    const writer = inner(file);
    const diagnosed = async <T>(call: () => Promise<T>): Promise<T> => {
      try {
        return await call();
      } catch (e) {
        throw await diagnoseWriteFailure(e, file);
      }
    };
    return {
      get path() {
        return writer.path;
      },
      write: (rows) => diagnosed(() => writer.write(rows)),
      close: () => diagnosed(() => writer.close()),
      abort: () => writer.abort(),
    };
  };
}
