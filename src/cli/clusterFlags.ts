/**
 * `imgpipe run` on the analytics cluster: the flags that choose the catalog (embedded warehouse or
 * Hive), the byte source (the catalog's `image_bytes`, or thumbnails over HTTP) and the output
 * location (local/mounted path or WebHDFS), resolved from flags, then environment variables, then a
 * JSON `--config` file (`$IMGPIPE_CONFIG`), then defaults. Everything is validated before any work.
 *
 * A password is never taken on the command line: `--hive-password-file FILE`, `passwordFile` in the
 * config, or `$IMGPIPE_HIVE_PASSWORD`. `--hive-password` exists only to refuse it without echoing it.
 */
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import { z } from 'zod';
import type { ByteSourceSpec } from '../bytes/byteSourceSpec.js';
import type { CatalogSpec } from '../catalog/catalogSpec.js';
import { hiveConfigSchema, resolveHiveSettings } from '../catalog/hive/hiveSettings.js';
import type { RunJobOptions } from '../exec/runJob.js';
import { UsageError } from '../util/errors.js';
import { invalidParameterError, parseIntegerFlag } from '../util/is.js';
import { packageVersion } from './packageVersion.js';

export interface ClusterFlags {
  config?: string;
  catalog?: string;
  hive?: string;
  hiveAuth?: string;
  hiveUser?: string;
  hivePasswordFile?: string;
  hivePassword?: string;
  database?: string;
  outputDatabase?: string;
  hiveConnectTimeout?: string;
  tableLocation?: string;
  hdfsUser?: string;
  hdfsUri?: string;
  bytesUrl?: string;
  bytesConcurrency?: string;
  bytesTimeout?: string;
  bytesRetries?: string;
  userAgent?: string;
}

const configSchema = z.strictObject({
  hive: hiveConfigSchema.optional(),
  tableLocation: z.string().optional(),
  hdfs: z.strictObject({ user: z.string().optional(), uri: z.string().optional() }).optional(),
  bytes: z
    .strictObject({
      url: z.string().optional(),
      userAgent: z.string().optional(),
      concurrency: z.number().int().optional(),
      timeout: z.number().optional(),
      retries: z.number().int().optional(),
    })
    .optional(),
});
export type ClusterConfig = z.infer<typeof configSchema>;

/** The run command's cluster options (added after its own). */
export function clusterOptions(): Option[] {
  return [
    new Option('--catalog <kind>', 'where images are selected and the output registered').choices(['embedded', 'hive']),
    new Option('--hive <host:port>', 'HiveServer2 (binary Thrift port) for --catalog hive [$IMGPIPE_HIVE]'),
    new Option('--hive-auth <mode>', 'nosasl | plain | ldap | kerberos (default plain, HiveServer2\'s default) [$IMGPIPE_HIVE_AUTH]'),
    new Option('--hive-user <user>', 'Hive user (default: the OS user) [$IMGPIPE_HIVE_USER]'),
    new Option('--hive-password-file <file>', 'file holding the Hive password [$IMGPIPE_HIVE_PASSWORD_FILE; or the password in $IMGPIPE_HIVE_PASSWORD]'),
    new Option('--hive-password <password>').hideHelp(),
    new Option('--hive-connect-timeout <seconds>', 'connect and login timeout (default 15)'),
    new Option('--database <db>', 'Hive database of the source tables (default commons) [$IMGPIPE_HIVE_DATABASE]'),
    new Option('--output-database <db>', 'Hive database of the output table (default: --database)'),
    new Option('--table-location <location>', 'output table location: a local/mounted path or webhdfs://HOST:PORT/PATH (default <warehouse>/<table>; required with --catalog hive)'),
    new Option('--hdfs-user <user>', 'HDFS user for webhdfs:// (default $HADOOP_USER_NAME, else the OS user)'),
    new Option('--hdfs-uri <uri>', 'filesystem URI Hive records for a webhdfs:// location, e.g. hdfs://analytics-hadoop (default: the webhdfs:// URL)'),
    new Option('--bytes-url <template>', "fetch thumbnails over HTTP: a URL with {name}, e.g. 'https://commons.wikimedia.org/wiki/Special:FilePath/{name}?width=400'"),
    new Option('--bytes-concurrency <n>', 'HTTP requests in flight per process (default 8)'),
    new Option('--bytes-timeout <seconds>', 'per HTTP request (default 30)'),
    new Option('--bytes-retries <n>', 'retries of an HTTP request on 429/5xx/timeouts (default 4)'),
    new Option('--user-agent <ua>', 'HTTP User-Agent; name yourself and a contact, as the Wikimedia policy asks [$IMGPIPE_USER_AGENT]'),
    new Option('--config <file>', 'JSON file with "hive", "hdfs", "bytes", "tableLocation" settings [$IMGPIPE_CONFIG]'),
  ];
}

/** @throws {UsageError} when the file cannot be read, is not JSON, or has unknown or mistyped keys. */
export function readClusterConfig(file: string): ClusterConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`Cannot read the config file ${file} (--config): ${(e as Error).message}`);
  }
  if (raw && typeof raw === 'object' && (raw as { hive?: { password?: unknown } }).hive?.password !== undefined) {
    throw new UsageError(`The config file ${file} holds a Hive password: put it in its own file and set "passwordFile" (or $IMGPIPE_HIVE_PASSWORD) instead`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError(`Invalid config file ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** The RunJobOptions the cluster flags add. Empty for an embedded run with no cluster flag. */
export function resolveClusterFlags(
  flags: ClusterFlags,
  env: NodeJS.ProcessEnv = process.env,
): Pick<RunJobOptions, 'catalog' | 'bytes' | 'tableLocation' | 'hdfsUser'> {
  if (flags.hivePassword !== undefined) {
    throw new UsageError('A password is never taken on the command line (it would show in ps and shell history): use --hive-password-file FILE or $IMGPIPE_HIVE_PASSWORD');
  }
  const configFile = flags.config ?? env.IMGPIPE_CONFIG;
  const config = configFile ? readClusterConfig(configFile) : {};
  const out: Pick<RunJobOptions, 'catalog' | 'bytes' | 'tableLocation' | 'hdfsUser'> = {};

  const kind = flags.catalog ?? 'embedded';
  const hiveFlags = (['hive', 'hiveAuth', 'hiveUser', 'hivePasswordFile', 'database', 'outputDatabase', 'hiveConnectTimeout'] as const).filter((k) => flags[k] !== undefined);
  if (kind !== 'hive' && hiveFlags.length > 0) {
    throw new UsageError(`--${hiveFlags[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for --catalog hive: add --catalog hive, or drop it`);
  }
  let catalog: CatalogSpec | undefined;
  if (kind === 'hive') {
    const hive = resolveHiveSettings(
      {
        address: flags.hive,
        auth: flags.hiveAuth,
        user: flags.hiveUser,
        passwordFile: flags.hivePasswordFile,
        database: flags.database,
        outputDatabase: flags.outputDatabase,
        connectTimeout: flags.hiveConnectTimeout,
      },
      env,
      config.hive ?? {},
    );
    catalog = { kind: 'hive', hive, hdfs_uri: flags.hdfsUri ?? config.hdfs?.uri ?? null };
    out.catalog = catalog;
  }

  const tableLocation = flags.tableLocation ?? config.tableLocation;
  if (tableLocation !== undefined) out.tableLocation = tableLocation;
  const hdfsUser = flags.hdfsUser ?? config.hdfs?.user;
  if (hdfsUser !== undefined) out.hdfsUser = hdfsUser;

  const url = flags.bytesUrl ?? config.bytes?.url;
  const httpFlags = (['bytesConcurrency', 'bytesTimeout', 'bytesRetries', 'userAgent'] as const).filter((k) => flags[k] !== undefined);
  if (url === undefined && httpFlags.length > 0) {
    throw new UsageError(`--${httpFlags[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for HTTP bytes: add --bytes-url TEMPLATE, or drop it`);
  }
  if (url !== undefined) out.bytes = httpBytes(url, flags, config, env);
  return out;
}

function httpBytes(url: string, flags: ClusterFlags, config: ClusterConfig, env: NodeJS.ProcessEnv): ByteSourceSpec {
  if (!/^https?:\/\/[^/]+/.test(url) || !url.includes('{name}')) throw invalidParameterError('--bytes-url', 'an http(s) URL containing {name}', url);
  const intFlag = (name: string, flag: string | undefined, fromConfig: number | undefined, fallback: number, min: number, max: number) => {
    if (flag !== undefined) return parseIntegerFlag(name, flag, min, max);
    const v = fromConfig ?? fallback;
    if (!Number.isInteger(v) || v < min || v > max) throw invalidParameterError(name, `integer between ${min} and ${max}`, v);
    return v;
  };
  const timeoutRaw = flags.bytesTimeout ?? config.bytes?.timeout ?? 30;
  const timeout = typeof timeoutRaw === 'number' ? timeoutRaw : /^\d+(\.\d+)?$/.test(timeoutRaw) ? Number(timeoutRaw) : Number.NaN;
  if (!(timeout > 0 && timeout <= 3600)) throw invalidParameterError('--bytes-timeout', 'number of seconds between 0 and 3600', timeoutRaw);
  const userAgent = flags.userAgent ?? env.IMGPIPE_USER_AGENT ?? config.bytes?.userAgent ?? `imgpipe/${packageVersion()} (batch image inference; set --user-agent or $IMGPIPE_USER_AGENT to name a contact)`;
  return {
    kind: 'http',
    url_template: url,
    user_agent: userAgent,
    concurrency: intFlag('--bytes-concurrency', flags.bytesConcurrency, config.bytes?.concurrency, 8, 1, 256),
    timeout_ms: Math.round(timeout * 1000),
    retries: intFlag('--bytes-retries', flags.bytesRetries, config.bytes?.retries, 4, 0, 20),
  };
}
