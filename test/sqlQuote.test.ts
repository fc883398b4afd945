import { describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { checkIdentifier, duckdbIdentifier, duckdbString, hiveIdentifier, hiveString } from '../src/catalog/sqlQuote.js';

const HOSTILE = [
  "O'Brien",
  "x'; DROP TABLE image; --",
  'back\\slash\\',
  "trailing backslash \\'",
  'semi;colon',
  '/* comment */ -- line',
  'new\nline',
  'tab\tand\rreturn',
  'Ünïcödé_ケーキ_🎨',
  '"double"',
  '`back`tick',
  '',
];

describe('sqlQuote', () => {
  it('DuckDB string literals select exactly the value, whatever it contains', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    for (const value of HOSTILE) {
      const reader = await c.runAndReadAll(`SELECT ${duckdbString(value)} AS v`);
      expect(reader.getRows()).toEqual([[value]]);
    }
    // Running a hostile value as a statement runs one statement, no DROP.
    await c.run('CREATE TABLE image AS SELECT 1 AS x');
    await c.runAndReadAll(`SELECT count(*) FROM image WHERE 'a' = ${duckdbString("x'; DROP TABLE image; --")}`);
    expect((await c.runAndReadAll('SELECT count(*) FROM image')).getRows()).toEqual([[1n]]);
    c.disconnectSync();
    db.closeSync();
  });

  it('Hive string literals escape quotes, backslashes, semicolons and control characters', () => {
    expect(hiveString("O'Brien")).toBe("'O\\'Brien'");
    expect(hiveString('a\\b')).toBe("'a\\\\b'");
    expect(hiveString('x;y')).toBe("'x\\;y'");
    expect(hiveString('a\nb')).toBe("'a\\nb'");
    expect(hiveString('"q"')).toBe("'\\\"q\\\"'");
    for (const value of HOSTILE) {
      const quoted = hiveString(value);
      // Inside the quotes there is no unescaped quote, no raw newline, no unescaped semicolon.
      const inner = quoted.slice(1, -1);
      expect(inner).not.toMatch(/(^|[^\\])(\\\\)*'/);
      expect(inner).not.toMatch(/[\n\r]/);
      expect(inner).not.toMatch(/(^|[^\\])(\\\\)*;/);
    }
  });

  it('refuses NUL characters', () => {
    expect(() => duckdbString('a\u0000b')).toThrow('Expected a string without NUL characters in a SQL value');
    expect(() => hiveString('a\u0000b')).toThrow('Expected a string without NUL characters in a SQL value');
  });

  it('identifiers must match the strict pattern', () => {
    expect(duckdbIdentifier('classifications')).toBe('"classifications"');
    expect(hiveIdentifier('commons_images')).toBe('`commons_images`');
    for (const bad of ['', '1abc', 'a-b', 'a b', 'a;b', 'a"b', 'a`b', 'ü', 'x'.repeat(129)]) {
      expect(() => checkIdentifier(bad, 'table name')).toThrow(
        `Expected letters, digits and underscores (not starting with a digit, at most 128) for table name but received ${JSON.stringify(bad)} of type string`,
      );
    }
  });
});
