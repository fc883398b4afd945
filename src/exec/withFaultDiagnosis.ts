/**
 * The TaskContext both executors hand to `runPartition`, with failures named by their root cause
 * (`runPartition` itself is not changed):
 * - the byte source: by its contract a missing image is a typed miss, so a `fetch` that throws means
 *   the source itself failed (server resetting connections, `image_bytes` unreadable, Hive gone):
 *   an InfrastructureError (EBYTESOURCE, or the errno it carries), never rows;
 * - the part writer: `withWriteDiagnosis` (a short write on a full disk reads ENOSPC, not "Corrupt
 *   footer").
 */
import type { ByteSource } from '../bytes/ByteSource.js';
import { asInfrastructureError, InfrastructureError } from '../util/infraErrors.js';
import type { TaskContext } from './task.js';
import { withWriteDiagnosis } from './withWriteDiagnosis.js';

export function withFaultDiagnosis(ctx: TaskContext): TaskContext {
  return { ...ctx, bytes: diagnosingByteSource(ctx.bytes), openPartWriter: withWriteDiagnosis(ctx.openPartWriter) };
}

function diagnosingByteSource(inner: ByteSource): ByteSource {
  return {
    // Whether the bytes can be checked against the plan's sha1 is the inner source's to say.
    servesCatalogBytes: inner.servesCatalogBytes,
    async fetch(imageNames) {
      try {
        return await inner.fetch(imageNames);
      } catch (e) {
        const known = asInfrastructureError(e);
        if (known) throw known;
        throw new InfrastructureError('EBYTESOURCE', `The byte source failed (EBYTESOURCE) fetching ${imageNames.length} images: ${(e as Error)?.message ?? String(e)}`, { cause: e });
      }
    },
    close: () => inner.close(),
  };
}
