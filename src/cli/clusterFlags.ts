/**
 * `imgpipe run` and `imgpipe train` on the analytics cluster: the flags that choose the catalog
 * (embedded warehouse or Hive) and its source profile (`--source mediawiki`: the MediaWiki replicas,
 * mediawikiSource.ts), the byte source (the catalog's `image_bytes`, or thumbnails over HTTP, by a
 * template or `--bytes-preset commons-thumb`, thumbnailUrl.ts) and the output
 * location (local/mounted path or WebHDFS), resolved from flags, then environment variables, then a
 * JSON `--config` file (`$IMGPIPE_CONFIG`), then defaults. Everything is validated before any work.
 *
 * A password is never taken on the command line: `--hive-password-file FILE`, `passwordFile` in the
 * config, or `$IMGPIPE_HIVE_PASSWORD`. `--hive-password` exists only to refuse it without echoing it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Option } from 'commander';
import { z } from 'zod';
import type { ByteSourceSpec } from '../bytes/byteSourceSpec.js';
import type { CatalogSpec } from '../catalog/catalogSpec.js';
import { hiveConfigSchema, resolveHiveSettings } from '../catalog/hive/hiveSettings.js';
import { parseMediaWikiSource, type MediaWikiSource } from '../catalog/mediawikiSource.js';
import type { RunJobOptions } from '../exec/runJob.js';
import { UsageError } from '../util/errors.js';
import { invalidParameterError, parseIntegerFlag } from '../util/is.js';
import { validateInput } from '../util/validateInput.js';
import { packageVersion } from './packageVersion.js';
import { BYTES_PRESETS, COMMONS_THUMB_HOST, normalizeTemplate, templateNeedsWidth, type BytesPreset } from '../bytes/thumbnailUrl.js';
import { choiceOption } from './choiceOption.js';

export interface ClusterFlags {
  config?: string;
  catalog?: string;
  /** The run's own --warehouse (needed here for an embedded catalog with a source profile). */
  warehouse?: string;
  source?: string;
  mediawikiSnapshot?: string;
  wikiDb?: string;
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
  bytesPreset?: string;
  bytesMirror?: string;
  thumbWidth?: string;
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
      preset: z.enum(Object.keys(BYTES_PRESETS) as [BytesPreset]).optional(),
      mirror: z.string().optional(),
      thumbWidth: z.number().int().optional(),
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
    choiceOption('--catalog <kind>', 'where images are selected and the output registered', ['embedded', 'hive']),
    choiceOption('--source <profile>', 'layout of the source tables: warehouse (image, categorylinks, category_parent; default) or mediawiki (the MediaWiki replicas mediawiki_image, mediawiki_page, mediawiki_categorylinks)', ['warehouse', 'mediawiki']),
    new Option('--mediawiki-snapshot <yyyy-mm>', 'with --source mediawiki: the replicas\' snapshot partition, e.g. 2026-10'),
    new Option('--wiki-db <name>', 'with --source mediawiki: the wiki_db partition (default commonswiki)'),
    new Option('--hive <host:port>', 'HiveServer2 (binary Thrift port) for --catalog hive [$IMGPIPE_HIVE]'),
    new Option('--hive-auth <mode>', 'nosasl | plain | ldap | kerberos (default plain, HiveServer2\'s default) [$IMGPIPE_HIVE_AUTH]'),
    new Option('--hive-user <user>', 'Hive user (default: the OS user) [$IMGPIPE_HIVE_USER]'),
    new Option('--hive-password-file <file>', 'file holding the Hive password [$IMGPIPE_HIVE_PASSWORD_FILE; or the password in $IMGPIPE_HIVE_PASSWORD]'),
    new Option('--hive-password <password>').hideHelp(),
    new Option('--hive-connect-timeout <seconds>', 'connect and login timeout (default 15)'),
    new Option('--database <db>', 'Hive database of the source tables (default commons; wmf_raw with --source mediawiki) [$IMGPIPE_HIVE_DATABASE]'),
    new Option('--output-database <db>', 'Hive database of the output table (default: --database)'),
    new Option('--table-location <location>', 'output table location: a local/mounted path or webhdfs://HOST:PORT/PATH (default <warehouse>/<table>; required with --catalog hive)'),
    new Option('--hdfs-user <user>', 'HDFS user for webhdfs:// (default $HADOOP_USER_NAME, else the OS user)'),
    new Option('--hdfs-uri <uri>', 'filesystem URI Hive records for a webhdfs:// location, e.g. hdfs://analytics-hadoop (default: the webhdfs:// URL)'),
    new Option('--bytes-url <template>', "fetch thumbnails over HTTP: a URL with {name}, e.g. 'https://commons.wikimedia.org/wiki/Special:FilePath/{name}?width=400'"),
    choiceOption('--bytes-preset <preset>', `thumbnails by hash path from the public upload host: commons-thumb = ${BYTES_PRESETS['commons-thumb']}`, Object.keys(BYTES_PRESETS)),
    new Option('--bytes-mirror <url>', 'with --bytes-preset: an internal mirror (scheme://host[:port][/prefix]) in place of https://upload.wikimedia.org [$IMGPIPE_BYTES_MIRROR]'),
    new Option('--thumb-width <px>', 'thumbnail width for {width}/{thumb} in --bytes-url or --bytes-preset (default 400)'),
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
  return validateInput(configSchema, raw, `Config file ${file} (--config)`, 'the file');
}

/** The RunJobOptions the cluster flags add. Empty for an embedded run with no cluster flag. */
export function resolveClusterFlags(
  flags: ClusterFlags,
  env: NodeJS.ProcessEnv = process.env,
  /** `output: false` (train): no output table is registered, so no output database or byte source is demanded. @defaultValue true */
  options: { output?: boolean } = {},
): Pick<RunJobOptions, 'catalog' | 'bytes' | 'tableLocation' | 'hdfsUser'> {
  options = { output: true, ...options };
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
  const source = resolveSourceProfile(flags);
  let catalog: CatalogSpec | undefined;
  if (kind === 'hive') {
    // The replicas live in wmf_raw; the output table must not default to going there too.
    const databaseGiven = flags.database ?? (env.IMGPIPE_HIVE_DATABASE || undefined) ?? config.hive?.database;
    const outputGiven = flags.outputDatabase ?? (env.IMGPIPE_HIVE_OUTPUT_DATABASE || undefined) ?? config.hive?.outputDatabase;
    if (source && options.output && outputGiven === undefined) {
      throw new UsageError('--output-database DB is required with --catalog hive --source mediawiki: the database of the output table (it does not go into the replicas\' database)');
    }
    const hive = resolveHiveSettings(
      {
        address: flags.hive,
        auth: flags.hiveAuth,
        user: flags.hiveUser,
        passwordFile: flags.hivePasswordFile,
        database: flags.database ?? (source && databaseGiven === undefined ? 'wmf_raw' : undefined),
        outputDatabase: flags.outputDatabase,
        connectTimeout: flags.hiveConnectTimeout,
      },
      env,
      config.hive ?? {},
    );
    catalog = { kind: 'hive', hive, hdfs_uri: flags.hdfsUri ?? config.hdfs?.uri ?? null, ...(source ? { source } : {}) };
    out.catalog = catalog;
  } else if (source) {
    if (flags.warehouse === undefined) throw new UsageError('--warehouse DIR is required with --source mediawiki on the embedded catalog (the warehouse that holds the replica tables; see `warehouse import-mediawiki`)');
    catalog = { kind: 'embedded', warehouse: path.resolve(flags.warehouse), source };
    out.catalog = catalog;
  }

  const tableLocation = flags.tableLocation ?? config.tableLocation;
  if (tableLocation !== undefined) out.tableLocation = tableLocation;
  const hdfsUser = flags.hdfsUser ?? config.hdfs?.user;
  if (hdfsUser !== undefined) out.hdfsUser = hdfsUser;

  const url = bytesTemplate(flags, config, env);
  const httpFlags = (['bytesConcurrency', 'bytesTimeout', 'bytesRetries', 'userAgent', 'thumbWidth'] as const).filter((k) => flags[k] !== undefined);
  if (url === undefined && httpFlags.length > 0) {
    throw new UsageError(`--${httpFlags[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for HTTP bytes: add --bytes-url TEMPLATE or --bytes-preset commons-thumb, or drop it`);
  }
  if (url !== undefined) out.bytes = httpBytes(url, flags, config, env);
  else if (source && options.output) {
    throw new UsageError('--source mediawiki has no table of image bytes: add --bytes-preset commons-thumb (thumbnails by hash path; --bytes-mirror for an internal mirror) or --bytes-url TEMPLATE');
  }
  return out;
}

/**
 * The source profile from `--source`, `--mediawiki-snapshot`, `--wiki-db`; undefined for the
 * warehouse layout.
 * @throws {UsageError} a profile flag without `--source mediawiki`, or a bad snapshot or wiki name.
 */
export function resolveSourceProfile(flags: Pick<ClusterFlags, 'source' | 'mediawikiSnapshot' | 'wikiDb'>): MediaWikiSource | undefined {
  if (flags.source === 'mediawiki') return parseMediaWikiSource(flags.mediawikiSnapshot, flags.wikiDb);
  if (flags.source !== undefined && flags.source !== 'warehouse') throw invalidParameterError('--source', 'one of: warehouse, mediawiki', flags.source);
  const stray = flags.mediawikiSnapshot !== undefined ? '--mediawiki-snapshot' : flags.wikiDb !== undefined ? '--wiki-db' : null;
  if (stray) throw new UsageError(`${stray} is for --source mediawiki: add --source mediawiki, or drop it`);
  return undefined;
}

/**
 * The URL template of HTTP bytes: `--bytes-url`, or a `--bytes-preset` with its host replaced by
 * `--bytes-mirror` (flag, then `$IMGPIPE_BYTES_MIRROR`, then the config's `bytes.mirror`); undefined
 * when neither is given.
 * @throws {UsageError} both --bytes-url and --bytes-preset; a mirror without a preset or not an http(s) URL.
 */
export function bytesTemplate(flags: ClusterFlags, config: ClusterConfig = {}, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const preset = flags.bytesPreset ?? (flags.bytesUrl === undefined ? config.bytes?.preset : undefined);
  const mirror = flags.bytesMirror ?? (env.IMGPIPE_BYTES_MIRROR || undefined) ?? config.bytes?.mirror;
  if (flags.bytesUrl !== undefined && flags.bytesPreset !== undefined) throw new UsageError('Expected one of --bytes-url and --bytes-preset but received both');
  if (config.bytes?.url !== undefined && config.bytes.preset !== undefined) throw new UsageError('Expected one of "url" and "preset" in the config file\'s "bytes" object but received both');
  if (preset === undefined) {
    if (flags.bytesMirror !== undefined) throw new UsageError('--bytes-mirror replaces the host of a --bytes-preset: add --bytes-preset commons-thumb, or put the mirror in --bytes-url');
    return flags.bytesUrl ?? config.bytes?.url;
  }
  if (!(preset in BYTES_PRESETS)) throw invalidParameterError('--bytes-preset', `one of: ${Object.keys(BYTES_PRESETS).join(', ')}`, preset);
  const template: string = BYTES_PRESETS[preset as BytesPreset];
  if (mirror === undefined) return template;
  if (!/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(mirror)) throw invalidParameterError('--bytes-mirror', 'an http(s) URL such as http://thumbs.internal:8080 or https://host/prefix', mirror);
  return mirror.replace(/\/+$/, '') + template.slice(COMMONS_THUMB_HOST.length);
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
  const needsWidth = templateNeedsWidth(normalizeTemplate(url));
  const widthRaw = flags.thumbWidth ?? config.bytes?.thumbWidth;
  if (!needsWidth && widthRaw !== undefined) throw new UsageError(`--thumb-width is for a template with {width} or {thumb}, and ${JSON.stringify(url)} has neither`);
  const thumbWidth = needsWidth ? intFlag('--thumb-width', flags.thumbWidth, config.bytes?.thumbWidth, 400, 1, 10_000) : undefined;
  return {
    kind: 'http',
    url_template: normalizeTemplate(url),
    ...(thumbWidth === undefined ? {} : { thumb_width: thumbWidth }),
    user_agent: userAgent,
    concurrency: intFlag('--bytes-concurrency', flags.bytesConcurrency, config.bytes?.concurrency, 8, 1, 256),
    timeout_ms: Math.round(timeout * 1000),
    retries: intFlag('--bytes-retries', flags.bytesRetries, config.bytes?.retries, 4, 0, 20),
  };
}
