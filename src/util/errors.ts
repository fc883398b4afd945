/**
 * Error classes that carry exit-code meaning. The CLI maps them once (src/cli/program.ts):
 * UsageError → exit 2 (bad flag, bad input, unknown model, bad card, SQL error in the selection);
 * anything else → exit 1 (the run failed).
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = 2;
}

/** A failure of one image that becomes an `error` row; `reason` is the machine-readable code. */
export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(readonly reason: ErrorReason, detail: string) {
    super(detail);
  }
}

/** Reasons written to the `error` column. Stable: other teams filter on them. */
export const ERROR_REASONS = [
  'missing_bytes', // the image has no bytes in the byte source
  'empty_bytes', // zero-length bytes
  'unsupported_format', // not an image format the decoder knows
  'truncated', // the file ends before the image does
  'decode_failed', // corrupt or otherwise undecodable
  'too_many_pixels', // width × height over --max-pixels (checked from the header)
  'bytes_changed', // the bytes served are not the ones the plan's sha1 describes (the file changed since planning)
  'inference_failed', // the model failed on this image alone, or returned NaN/infinite values
  'partition_failed', // the whole partition failed after its retries (queue executor)
] as const;
export type ErrorReason = (typeof ERROR_REASONS)[number];
