/**
 * Default for --max-pixels: 100 megapixels (width × height, before any shrink-on-load). Apart from
 * the decoders so the CLI can show it without loading sharp.
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;
