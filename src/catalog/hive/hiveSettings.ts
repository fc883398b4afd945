/**
 * How to reach HiveServer2: the settings from flags, environment variables and a JSON config file
 * (in that order of precedence, over the defaults), validated at the edge.
 *
 * The result, `HiveConnectionSpec`, is plain JSON: it travels in run.json and queue jobs so any process
 * can connect. It never holds the password: the password is read when a connection opens, from the
 * file named by `passwordFile` or from `$IMGPIPE_HIVE_PASSWORD`, so it is never on a command line, in
 * run.json, or in a log line.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../../util/errors.js';
import { invalidParameterError } from '../../util/is.js';
import { checkIdentifier } from '../sqlQuote.js';

/**
 * `nosasl`: plain Thrift (HiveServer2 `hive.server2.authentication=NOSASL`). `plain`: SASL PLAIN
 * (`NONE`, the HiveServer2 default, or `CUSTOM`). `ldap`: SASL PLAIN too, the password checked by LDAP.
 * `kerberos`: SASL GSSAPI through the optional `kerberos` package and a ticket from `kinit`.
 */
export const HIVE_AUTH_MODES = ['nosasl', 'plain', 'ldap', 'kerberos'] as const;
export type HiveAuth = (typeof HIVE_AUTH_MODES)[number];

export const hiveConnectionSpecSchema = z.strictObject({
  host: z.string(),
  port: z.number().int(),
  auth: z.enum(HIVE_AUTH_MODES),
  user: z.string(),
  /** A file whose content (trailing newline removed) is the password; else `$IMGPIPE_HIVE_PASSWORD`. */
  password_file: z.string().nullable(),
  /** Database of the source tables: image, image_bytes, categorylinks, category_parent; with the mediawiki profile the replicas (wmf_raw). */
  database: z.string(),
  /** Database of the output table. */
  output_database: z.string(),
  /** Kerberos service name of the HiveServer2 principal (`hive/<host>@REALM`). */
  kerberos_service: z.string(),
  connect_timeout_ms: z.number().int(),
  request_timeout_ms: z.number().int(),
  /** Rows per FetchResults page. */
  fetch_size: z.number().int(),
});
export type HiveConnectionSpec = z.infer<typeof hiveConnectionSpecSchema>;

/** What a user may set; every field optional. Keys as in the config file's `hive` object. */
export interface HiveSettingsInput {
  /** `HOST:PORT` */
  address?: string;
  auth?: string;
  user?: string;
  passwordFile?: string;
  database?: string;
  outputDatabase?: string;
  kerberosService?: string;
  /** Seconds. */
  connectTimeout?: number | string;
  /** Seconds. */
  requestTimeout?: number | string;
  fetchSize?: number | string;
}

/** The `hive` object of a `--config` file. A `password` key is refused (use passwordFile). */
export const hiveConfigSchema = z.strictObject({
  address: z.string().optional(),
  auth: z.enum(HIVE_AUTH_MODES).optional(),
  user: z.string().optional(),
  passwordFile: z.string().optional(),
  database: z.string().optional(),
  outputDatabase: z.string().optional(),
  kerberosService: z.string().optional(),
  connectTimeout: z.number().positive().optional(),
  requestTimeout: z.number().positive().optional(),
  fetchSize: z.number().int().positive().optional(),
});

/** Environment variables read, by setting. */
export const HIVE_ENV = {
  address: 'IMGPIPE_HIVE',
  auth: 'IMGPIPE_HIVE_AUTH',
  user: 'IMGPIPE_HIVE_USER',
  passwordFile: 'IMGPIPE_HIVE_PASSWORD_FILE',
  database: 'IMGPIPE_HIVE_DATABASE',
  outputDatabase: 'IMGPIPE_HIVE_OUTPUT_DATABASE',
  kerberosService: 'IMGPIPE_HIVE_KERBEROS_SERVICE',
} as const;
export const HIVE_PASSWORD_ENV = 'IMGPIPE_HIVE_PASSWORD';

/**
 * Merge flags over environment over config over defaults, and validate.
 * @defaultValue auth 'plain' (HiveServer2's default transport is SASL), user: the OS user,
 *   database 'commons', output database = database, kerberos service 'hive', connect timeout 15 s,
 *   request timeout 300 s, fetch size 10000 rows.
 * @throws {UsageError} on a missing or malformed address, an unknown auth mode, a bad name or number.
 */
export function resolveHiveSettings(flags: HiveSettingsInput, env: NodeJS.ProcessEnv = process.env, config: HiveSettingsInput = {}): HiveConnectionSpec {
  const fromEnv: HiveSettingsInput = {};
  for (const [key, name] of Object.entries(HIVE_ENV) as [keyof typeof HIVE_ENV, string][]) {
    if (env[name] !== undefined && env[name] !== '') fromEnv[key] = env[name];
  }
  const pick = <K extends keyof HiveSettingsInput>(key: K): HiveSettingsInput[K] => flags[key] ?? fromEnv[key] ?? config[key];

  const address = pick('address');
  if (address === undefined) throw new UsageError('Expected HOST:PORT of HiveServer2 for --hive (or $IMGPIPE_HIVE, or "address" in the config file\'s "hive" object) but received nothing');
  const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port < 1 || port > 65535) throw invalidParameterError('--hive', 'HOST:PORT (e.g. an-coord1001.eqiad.wmnet:10000)', address);

  const auth = pick('auth') ?? 'plain';
  if (!(HIVE_AUTH_MODES as readonly string[]).includes(auth)) throw invalidParameterError('--hive-auth', `one of: ${HIVE_AUTH_MODES.join(', ')}`, auth);

  const database = checkIdentifier(pick('database') ?? 'commons', '--database');
  const outputDatabase = checkIdentifier(pick('outputDatabase') ?? database, '--output-database');
  const passwordFile = pick('passwordFile');
  const seconds = (name: string, raw: number | string | undefined, fallback: number) => {
    if (raw === undefined) return fallback * 1000;
    const v = typeof raw === 'number' ? raw : /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : Number.NaN;
    if (!(v > 0 && v <= 86_400)) throw invalidParameterError(name, 'number of seconds between 0 and 86400', raw);
    return Math.round(v * 1000);
  };
  const fetchRaw = pick('fetchSize');
  const fetchSize = fetchRaw === undefined ? 10_000 : Number(fetchRaw);
  if (!Number.isInteger(fetchSize) || fetchSize < 1 || fetchSize > 1_000_000) throw invalidParameterError('--hive-fetch-size', 'integer between 1 and 1000000', fetchRaw);
  const kerberosService = pick('kerberosService') ?? 'hive';
  if (!/^[A-Za-z0-9_.-]+$/.test(kerberosService)) throw invalidParameterError('kerberosService', 'a service name such as hive', kerberosService);

  return {
    host: m[1]!.replace(/^\[|\]$/g, ''),
    port,
    auth: auth as HiveAuth,
    user: pick('user') ?? os.userInfo().username,
    password_file: passwordFile === undefined ? null : path.resolve(passwordFile),
    database,
    output_database: outputDatabase,
    kerberos_service: kerberosService,
    connect_timeout_ms: seconds('--hive-connect-timeout', pick('connectTimeout'), 15),
    request_timeout_ms: seconds('--hive-request-timeout', pick('requestTimeout'), 300),
    fetch_size: fetchSize,
  };
}

/**
 * The password for a connection: the content of `password_file` (one trailing newline removed), else
 * `$IMGPIPE_HIVE_PASSWORD`, else undefined. Never logged, never stored.
 * @throws {UsageError} when the password file cannot be read.
 */
export function readHivePassword(spec: HiveConnectionSpec, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (spec.password_file !== null) {
    try {
      return readFileSync(spec.password_file, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new UsageError(`Cannot read the Hive password file ${spec.password_file} (--hive-password-file): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return env[HIVE_PASSWORD_ENV];
}

/** `host:port` for messages. */
export const hiveAddress = (spec: Pick<HiveConnectionSpec, 'host' | 'port'>) => `${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`;
