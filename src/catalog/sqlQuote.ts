/**
 * The one place where values from users become SQL text. Values go in as string literals escaped for
 * the dialect; names (tables, databases) must match a strict pattern and are then quoted. Where the
 * engine supports bound parameters (DuckDB) we bind values instead and use this only for names and
 * paths inside DDL (which cannot take parameters).
 */
import { UsageError } from '../util/errors.js';
import { invalidParameterError } from '../util/is.js';

/** Table, database and column names: ASCII letters, digits and underscores, not starting with a digit. */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** @param what the flag or field the name came from (`--table`), else what it is (`table name`). */
export function checkIdentifier(name: string, what = 'identifier'): string {
  if (!IDENTIFIER_PATTERN.test(name)) {
    throw invalidParameterError(what, 'letters, digits and underscores (not starting with a digit, at most 128)', name);
  }
  return name;
}

/** DuckDB identifier: checked, then double-quoted. */
export function duckdbIdentifier(name: string, what?: string): string {
  return `"${checkIdentifier(name, what)}"`;
}

/** Hive identifier: checked, then back-quoted. */
export function hiveIdentifier(name: string, what?: string): string {
  return '`' + checkIdentifier(name, what) + '`';
}

function refuseNul(value: string): void {
  if (value.includes('\u0000')) throw new UsageError('Expected a string without NUL characters in a SQL value');
}

/** DuckDB (standard SQL) string literal: single quotes doubled; backslashes are literal. */
export function duckdbString(value: string): string {
  refuseNul(value);
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * HiveQL string literal. Hive unescapes backslash sequences inside literals, so backslashes and
 * quotes are escaped, and control characters written as escapes so a newline cannot end a comment.
 */
export function hiveString(value: string): string {
  refuseNul(value);
  const escaped = value
    .replaceAll('\\', '\\\\')
    .replaceAll("'", "\\'")
    .replaceAll('"', '\\"')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('\t', '\\t')
    .replaceAll(';', '\\;');
  return `'${escaped}'`;
}

/** Hive `database.table`: both checked, each back-quoted. */
export function hiveQualified(database: string, table: string): string {
  return `${hiveIdentifier(database, 'database name')}.${hiveIdentifier(table, 'table name')}`;
}

/**
 * A parenthesized list of HiveQL string literals for `IN (…)`.
 * @throws {UsageError} when the list is empty (`IN ()` is not HiveQL) or a value holds a NUL.
 */
export function hiveStringList(values: readonly string[]): string {
  if (values.length === 0) throw new UsageError('Expected at least one value for an IN list but received none');
  return `(${values.map(hiveString).join(', ')})`;
}
