/**
 * One input row of `imgpipe pipe`: an image to score, as Spark (or a shell) hands it over.
 * `bytes` null means "fetch them from the configured byte source"; a row whose bytes are neither
 * given nor found becomes a `missing_bytes` error row.
 */
export interface PipeRow {
  image_name: string;
  /** Decimal string (int64-safe), or null. */
  page_id: string | null;
  sha1: string | null;
  /** The image file; owns its buffer (it is transferred to the scoring threads). */
  bytes: Uint8Array | null;
}

/** Input columns `pipe` reads; any others (snapshot, wiki_db …) are ignored. */
export const PIPE_INPUT_COLUMNS = ['image_name', 'page_id', 'sha1', 'bytes'] as const;
