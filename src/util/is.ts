/**
 * Validation at the edge, after sharp's `lib/is`: small predicates plus one error factory, so every
 * bad flag, card field or option reads the same way:
 * "Expected integer between 1 and 4096 for batchSize but received 0 of type number".
 */
import { UsageError } from './errors.js';

export const defined = <T>(v: T | undefined | null): v is T => v !== undefined && v !== null;
export const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
export const inRange = (v: number, min: number, max: number): boolean => v >= min && v <= max;
export const inArray = <T>(v: unknown, list: readonly T[]): v is T => list.includes(v as T);

/**
 * The one wording for a parameter that failed validation, CLI flag or card field alike
 * (zod issues come here through validateInput.ts). Exit code 2 through UsageError.
 * @param name the flag (`--batch-size`) or the dotted field (`input.resize.shorter`).
 * @param expected human wording: "integer between 1 and 4096", "one of: lanes, pooled, auto".
 */
export function invalidParameterError(name: string, expected: string, actual: unknown): UsageError {
  return new UsageError(`Expected ${expected} for ${name} but received ${shownValue(actual)} of type ${typeof actual}`);
}

/** A received value as the message shows it: strings quoted, objects as (at most 80 characters of) JSON. */
function shownValue(actual: unknown): string {
  if (typeof actual === 'string') return JSON.stringify(actual);
  if (actual === null || typeof actual !== 'object') return String(actual);
  let json: string;
  try {
    json = JSON.stringify(actual);
  } catch {
    return String(actual);
  }
  return json.length > 80 ? `${json.slice(0, 79)}…` : json;
}

/** A choice flag's value, or the standard error: "Expected one of: a, b for --x but received "c" of type string". */
export function parseChoiceFlag<T extends string>(name: string, raw: string, choices: readonly T[]): T {
  if (!inArray(raw, choices)) throw invalidParameterError(name, `one of: ${choices.join(', ')}`, raw);
  return raw;
}

/** Parse a CLI integer flag; throws the standard message when it is not an integer in range. */
export function parseIntegerFlag(name: string, raw: string, min: number, max: number): number {
  const value = /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!isInteger(value) || !inRange(value, min, max)) {
    throw invalidParameterError(name, `integer between ${min} and ${max}`, raw);
  }
  return value;
}

/** Parse a size flag like `256MB`, `1.5GiB`, `4096` (bytes); KB/MB/GB are powers of 1024, as DuckDB reads them. */
export function parseByteSizeFlag(name: string, raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$/i.exec(raw);
  if (!m) throw invalidParameterError(name, 'a size such as 256MB, 1GB or a number of bytes', raw);
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = unit.startsWith('k') ? 2 ** 10 : unit.startsWith('m') ? 2 ** 20 : unit.startsWith('g') ? 2 ** 30 : 1;
  return Math.round(Number(m[1]) * factor);
}
