/**
 * The HiveQL side of the HiveServer2 test double: reads a statement the way Hive's lexer does
 * (string literals with backslash escapes, back-quoted identifiers, `--` comments) and rewrites it
 * for DuckDB. Deliberately independent of `src/catalog/sqlQuote.ts`: it is a port of Hive's own rules
 * (HiveLexer.g `StringLiteral`, `Identifier`, `COMMENT`; BaseSemanticAnalyzer.unescapeSQLString), so
 * a quoting bug in the client shows up as a wrong or refused query here, not as a matching bug.
 *
 * Like HiveServer2, one statement per call: a `;` outside a literal is a parse error.
 */

export class HiveParseError extends Error {
  override readonly name = 'HiveParseError';
}

/**
 * Hive's `BaseSemanticAnalyzer.unescapeSQLString`, ported: the text of one or more adjacent quoted
 * literals (quotes included) to the string value Hive sees.
 */
export function unescapeHiveString(b: string): string {
  let enclosure: string | null = null;
  let sb = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (enclosure === null) {
      if (c === "'" || c === '"') enclosure = c;
      continue; // everything between adjacent literals is ignored
    }
    if (c === enclosure) {
      enclosure = null;
      continue;
    }
    if (c === '\\' && i + 6 < b.length && b[i + 1] === 'u') {
      const code = Number.parseInt(b.slice(i + 2, i + 6), 16);
      if (!Number.isNaN(code)) {
        sb += String.fromCharCode(code);
        i += 5;
        continue;
      }
    }
    if (c === '\\' && i + 4 < b.length) {
      const [i1, i2, i3] = [b[i + 1]!, b[i + 2]!, b[i + 3]!];
      if (i1 >= '0' && i1 <= '1' && i2 >= '0' && i2 <= '7' && i3 >= '0' && i3 <= '7') {
        sb += String.fromCharCode((i3.charCodeAt(0) - 48) + (i2.charCodeAt(0) - 48) * 8 + (i1.charCodeAt(0) - 48) * 64);
        i += 3;
        continue;
      }
    }
    if (c === '\\' && i + 2 < b.length) {
      const n = b[i + 1]!;
      const map: Record<string, string> = { '0': '\u0000', "'": "'", '"': '"', b: '\b', n: '\n', r: '\r', t: '\t', Z: '\u001A', '\\': '\\', '%': '\\%', _: '\\_' };
      sb += map[n] ?? n;
      i++;
    } else {
      sb += c;
    }
  }
  return sb;
}

/** A DuckDB string literal for a value. */
export const duckString = (value: string) => `'${value.replaceAll("'", "''")}'`;

export interface TranslatedStatement {
  /** The statement for DuckDB. */
  sql: string;
  /** String literal values in order, as Hive read them (for assertions in tests). */
  literals: string[];
}

/**
 * Rewrite one HiveQL statement for DuckDB: string literals (single or double quoted, backslash
 * escapes, adjacent ones concatenated) become DuckDB literals; `` `name` `` becomes `"name"`;
 * `--` comments are dropped; any `;` outside a literal is refused as HiveServer2 refuses it.
 * @throws {HiveParseError} on an unterminated literal or identifier, or a `;`.
 */
export function translateHiveQL(statement: string): TranslatedStatement {
  let out = '';
  const literals: string[] = [];
  let i = 0;
  const n = statement.length;
  while (i < n) {
    const c = statement[i]!;
    if (c === "'" || c === '"') {
      // One StringLiteral token: ('…' | "…")+ with whitespace allowed between the parts.
      const start = i;
      let end = i;
      for (;;) {
        const quote = statement[end]!;
        let j = end + 1;
        while (j < n && statement[j] !== quote) j += statement[j] === '\\' ? 2 : 1;
        if (j >= n) throw new HiveParseError(`ParseException line 1:${start} character '<EOF>' not supported here (unterminated string literal)`);
        end = j + 1;
        let k = end;
        while (k < n && /\s/.test(statement[k]!)) k++;
        if (k < n && (statement[k] === "'" || statement[k] === '"')) end = k;
        else break;
      }
      const value = unescapeHiveString(statement.slice(start, end));
      literals.push(value);
      if (value.includes('\u0000')) throw new HiveParseError('ParseException: NUL in string literal');
      out += duckString(value);
      i = end;
    } else if (c === '`') {
      let j = i + 1;
      let name = '';
      for (;;) {
        if (j >= n) throw new HiveParseError(`ParseException line 1:${i} unterminated quoted identifier`);
        if (statement[j] === '`') {
          if (statement[j + 1] === '`') {
            name += '`';
            j += 2;
            continue;
          }
          break;
        }
        name += statement[j];
        j++;
      }
      out += `"${name.replaceAll('"', '""')}"`;
      i = j + 1;
    } else if (c === '-' && statement[i + 1] === '-') {
      while (i < n && statement[i] !== '\n' && statement[i] !== '\r') i++;
    } else if (c === ';') {
      throw new HiveParseError(`ParseException line 1:${i} missing EOF at ';' near '${statement.slice(Math.max(0, i - 10), i).trim()}'`);
    } else {
      out += c;
      i++;
    }
  }
  return { sql: out, literals };
}
