/**
 * zod schemas in sharp's words. Every schema that checks user input (model cards, run files, the
 * config file, queue job data) is parsed here, and each zod issue comes out through the same
 * wording as `invalidParameterError`:
 * "Expected integer between 1 and 16384 for input.resize.shorter but received 0 of type number".
 *
 * *expected* is derived from the schema that raised the issue (bounds, enum values, the pattern's
 * description). A schema overrides it with zod's own custom message (`.regex(re, 'lower-case letters…')`,
 * `{ error: '…' }`): that message is the *expected* wording, so write it as such.
 */
import { z } from 'zod';
import { UsageError } from './errors.js';
import { invalidParameterError } from './is.js';

type AnySchema = z.core.$ZodType;
type RawIssue = z.core.$ZodRawIssue & { schema?: AnySchema; path?: PropertyKey[] };
type Issue = z.core.$ZodIssue & { input?: unknown };

/** What a failed parse says: one sentence per problem, in sharp's words. */
export type InputProblems<T> = { success: true; data: T } | { success: false; problems: string[] };

/**
 * Parse `input` with `schema`; the data, or a UsageError (exit 2)
 * "`source`: Expected … for a.b but received … of type …; Expected …" naming every problem.
 * @param source where the input came from, e.g. `Model card /x/model.json`.
 * @param root the name of the whole input when the problem is the input itself. @defaultValue '(top level)'
 */
export function validateInput<T>(schema: z.ZodType<T>, input: unknown, source: string, root = '(top level)'): T {
  const parsed = describeInputProblems(schema, input, root);
  if (!parsed.success) throw new UsageError(`${source}: ${parsed.problems.join('; ')}`);
  return parsed.data;
}

/** As validateInput, without throwing: for callers that raise their own error class (a queue job). */
export function describeInputProblems<T>(schema: z.ZodType<T>, input: unknown, root = '(top level)'): InputProblems<T> {
  const parsed = schema.safeParse(input, { reportInput: true, error: (iss) => expectedWording(iss as RawIssue) });
  if (parsed.success) return { success: true, data: parsed.data };
  return { success: false, problems: parsed.error.issues.flatMap((i) => issueSentences(i as Issue, root)) };
}

/** An issue path as a dotted name with indexes in brackets: `input.std[1]`. */
export function dottedName(at: readonly PropertyKey[]): string {
  return at.map((k, n) => (typeof k === 'number' ? `[${k}]` : `${n > 0 ? '.' : ''}${String(k)}`)).join('');
}

function issueSentences(issue: Issue, root: string): string[] {
  const name = (at: readonly PropertyKey[]) => dottedName(at) || root;
  const input = issue.input as Record<string, unknown> | undefined;
  if (issue.code === 'invalid_union' && issue.discriminator === undefined) {
    // The one option whose literal fields (`mode: "stretch"`) all match the input is what was meant: its own problems.
    const tagged = issue.errors.filter((errors) => !errors.some((e) => e.code === 'invalid_value' && e.values.length === 1 && e.path.length === 1));
    if (tagged.length === 1 && tagged[0]!.length > 0) {
      return tagged[0]!.flatMap((e) => issueSentences({ ...e, path: [...issue.path, ...e.path] } as Issue, root));
    }
  }
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => invalidParameterError(name([...issue.path, k]), issue.message, input?.[k]).message);
  }
  if (issue.code === 'invalid_union' && issue.discriminator !== undefined) {
    // Path and input are those of the object; the path already ends with the discriminator.
    return [invalidParameterError(name(issue.path), issue.message, input?.[issue.discriminator]).message];
  }
  return [invalidParameterError(name(issue.path), issue.message, issue.input).message];
}

/** The *expected* part for one raw issue (zod calls this only when the schema sets no message of its own). */
function expectedWording(iss: RawIssue): string {
  switch (iss.code) {
    case 'unrecognized_keys': {
      const shape = iss.schema ? (defOf(iss.schema).shape as Record<string, unknown> | undefined) : undefined;
      return shape ? `no unknown field (known: ${Object.keys(shape).join(', ')})` : 'no unknown field';
    }
    case 'invalid_union':
      if (iss.discriminator !== undefined && iss.options) return oneOf(iss.options as readonly unknown[]);
      break;
    case 'invalid_value':
      return oneOf(iss.values);
    case 'not_multiple_of':
      return `multiple of ${String(iss.divisor)}`;
  }
  if (iss.schema) return describeSchema(iss.schema);
  // No owning schema (should not happen with zod 4's issues): fall back on the issue's own facts.
  if (iss.code === 'too_small') return `${iss.origin} ${iss.inclusive === false ? 'above' : 'at least'} ${String(iss.minimum)}`;
  if (iss.code === 'too_big') return `${iss.origin} ${iss.inclusive === false ? 'below' : 'at most'} ${String(iss.maximum)}`;
  if (iss.code === 'invalid_type') return iss.expected;
  return 'a valid value';
}

type Def = { type: string; [k: string]: unknown };
const defOf = (s: AnySchema): Def => s._zod.def as unknown as Def;

/** Human wording for what a schema accepts: "integer between 1 and 8192", "one of: NCHW, NHWC". */
export function describeSchema(schema: AnySchema): string {
  const def = defOf(schema);
  switch (def.type) {
    case 'number':
      return describeNumber(schema);
    case 'string':
      return describeString(schema);
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'literal':
      return oneOf(def.values as unknown[]);
    case 'enum':
      return oneOf(Object.values(def.entries as Record<string, unknown>));
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return describeSchema(def.innerType as AnySchema);
    case 'nullable':
      return `${describeSchema(def.innerType as AnySchema)} or null`;
    case 'pipe':
      return describeSchema(def.in as AnySchema);
    case 'array': {
      const min = (z.toJSONSchema(schema, { unrepresentable: 'any' }) as { minItems?: number }).minItems;
      const each = describeSchema(def.element as AnySchema);
      return min === 1 ? `non-empty array of ${each}` : min ? `array of at least ${min} items, each ${each}` : `array of ${each}`;
    }
    case 'tuple': {
      const items = def.items as AnySchema[];
      const each = items.map(describeSchema);
      return each.every((d) => d === each[0]) ? `array of ${items.length} items, each ${each[0]}` : `array [${each.join(', ')}]`;
    }
    case 'union': {
      const options = def.options as AnySchema[];
      // Fields that are literals in two or more options tell the options apart (`mode`, `task`).
      const literalKeys = options.flatMap((o) => Object.entries(objectShape(o) ?? {}).filter(([, s]) => defOf(s).type === 'literal').map(([k]) => k));
      const discriminators = new Set(literalKeys.filter((k, i) => literalKeys.indexOf(k) !== i));
      return options.map((o) => describeUnionOption(o, discriminators)).join(' or ');
    }
    case 'object':
      return 'object';
    case 'record':
      return 'object';
    case 'unknown':
    case 'any':
      return 'any value';
    default:
      return def.type;
  }
}

const objectShape = (s: AnySchema) => (defOf(s).type === 'object' ? (defOf(s).shape as Record<string, AnySchema>) : undefined);

/** A union's object option by its discriminating fields (`object with mode "stretch"`), else by its required fields. */
function describeUnionOption(option: AnySchema, discriminators: ReadonlySet<string>): string {
  const shape = objectShape(option);
  if (!shape) return describeSchema(option);
  const tags = Object.entries(shape).filter(([k, s]) => discriminators.has(k) && defOf(s).type === 'literal');
  if (tags.length > 0) return `object with ${tags.map(([k, s]) => `${k} ${oneOf(defOf(s).values as unknown[])}`).join(', ')}`;
  const required = Object.entries(shape).filter(([, s]) => !['optional', 'default'].includes(defOf(s).type));
  return `object with ${required.map(([k]) => k).join(', ')}`;
}

function describeNumber(schema: AnySchema): string {
  const js = z.toJSONSchema(schema, { unrepresentable: 'any' }) as { type?: string; minimum?: number; maximum?: number; exclusiveMinimum?: number; exclusiveMaximum?: number };
  const kind = js.type === 'integer' ? 'integer' : 'finite number';
  const bound = (v: number | undefined) => (v !== undefined && Math.abs(v) < Number.MAX_SAFE_INTEGER ? v : undefined);
  const min = bound(js.minimum);
  const max = bound(js.maximum);
  const above = bound(js.exclusiveMinimum);
  const below = bound(js.exclusiveMaximum);
  if (min !== undefined && max !== undefined) return `${kind} between ${min} and ${max}`;
  const parts = [
    min !== undefined ? `at least ${min}` : above !== undefined ? `above ${above}` : null,
    max !== undefined ? `at most ${max}` : below !== undefined ? `below ${below}` : null,
  ].filter((p) => p !== null);
  return parts.length ? `${kind} ${parts.join(' and ')}` : kind;
}

function describeString(schema: AnySchema): string {
  // A check's own message (`.regex(re, 'letters, digits, …')`) describes the string best, also when it is missing.
  for (const check of (defOf(schema).checks as AnySchema[] | undefined) ?? []) {
    const own = (check._zod.def as { error?: (iss: unknown) => unknown }).error?.({ code: 'invalid_format' });
    const message = typeof own === 'string' ? own : (own as { message?: unknown } | undefined)?.message;
    if (typeof message === 'string') return message;
  }
  const js = z.toJSONSchema(schema, { unrepresentable: 'any' }) as { minLength?: number; maxLength?: number; pattern?: string; format?: string };
  if (js.pattern !== undefined) return `string matching /${js.pattern}/`;
  const kind = js.format ? `${js.format} string` : 'string';
  if (js.minLength === 1 && js.maxLength === undefined) return `non-empty ${kind}`;
  if (js.minLength !== undefined && js.maxLength !== undefined) return `${kind} of ${js.minLength} to ${js.maxLength} characters`;
  if (js.minLength) return `${kind} of at least ${js.minLength} characters`;
  if (js.maxLength !== undefined) return `${kind} of at most ${js.maxLength} characters`;
  return kind;
}

/** "one of: a, b" (strings bare, as sharp writes them); a single value is shown as JSON: `"center"`. */
function oneOf(values: readonly unknown[]): string {
  if (values.length === 1) return JSON.stringify(values[0]) ?? String(values[0]);
  return `one of: ${values.map((v) => (typeof v === 'string' ? v : String(v))).join(', ')}`;
}
