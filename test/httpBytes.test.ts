/**
 * The HTTP thumbnail byte source against a local node:http server that misbehaves on purpose:
 * 429 with Retry-After, 503s, 404/410, 403, slow answers (timeouts), and good bytes; then one run of
 * the CLI whose bytes come over HTTP. Waits are on the server's events (a request arrived, requests
 * held until enough are in flight); the few wall-clock bounds are generous, each says what it catches.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpBytesSpec } from '../src/bytes/byteSourceSpec.js';
import { HttpByteSource, parseRetryAfter } from '../src/bytes/HttpByteSource.js';
import { expandTemplate, thumbnailFileName } from '../src/bytes/thumbnailUrl.js';
import { resolveClusterFlags } from '../src/cli/clusterFlags.js';
import { UsageError } from '../src/util/errors.js';
import { imgpipe, imgpipeCollect, lit, query, tempDir, waitFor } from './util/cli.js';

interface Hit {
  name: string;
  at: number;
  userAgent: string | undefined;
}

/** A thumbnail server: behaviour by file name; `bytes` serves real images for the CLI run. */
class ThumbServer {
  readonly hits: Hit[] = [];
  inFlight = 0;
  maxInFlight = 0;
  bytes = new Map<string, Uint8Array>();
  /** While set, answers to `Held…` names wait until it returns true (checked on every arrival and every answer). */
  holdUntil: (() => boolean) | null = null;
  /** `Held…` answers sent so far. */
  heldAnswered = 0;
  private held: (() => void)[] = [];
  private releasing: NodeJS.Timeout | null = null;
  private readonly counts = new Map<string, number>();
  private readonly arrivals = new Map<string, () => void>();
  private server!: http.Server;
  port = 0;

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  template(): string {
    return `http://127.0.0.1:${this.port}/thumb/{name}?width=400`;
  }

  /** Resolves once a request for `name` has arrived (at once if one already did). */
  arrived(name: string): Promise<void> {
    if (this.counts.has(name)) return Promise.resolve();
    return new Promise((resolve) => this.arrivals.set(name, resolve));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url!, 'http://x');
    const name = decodeURIComponent(url.pathname.replace(/^\/thumb\//, ''));
    const n = (this.counts.get(name) ?? 0) + 1;
    this.counts.set(name, n);
    this.hits.push({ name, at: Date.now(), userAgent: req.headers['user-agent'] });
    this.arrivals.get(name)?.();
    this.arrivals.delete(name);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on('close', () => {
      this.inFlight--;
      this.release();
    });
    const send = (status: number, body: string | Uint8Array = '', headers: Record<string, string> = {}) => res.writeHead(status, headers).end(body);
    if (this.bytes.has(name)) return send(200, this.bytes.get(name)!, { 'content-type': 'image/jpeg' });
    if (name.startsWith('Held')) {
      await new Promise<void>((resolve) => {
        this.held.push(resolve);
        this.release();
      });
      this.heldAnswered++;
      return send(200, `bytes of ${name}`);
    }
    if (name.startsWith('Good')) return send(200, `bytes of ${name}`);
    if (name.startsWith('Missing')) return send(404, 'Not Found');
    if (name.startsWith('Gone')) return send(410);
    if (name.startsWith('Forbidden')) return send(403, 'Please set a user-agent');
    if (name.startsWith('Limited')) return n === 1 ? send(429, 'slow down', { 'retry-after': '1' }) : send(200, `bytes of ${name}`);
    if (name.startsWith('Busy')) return n <= 2 ? send(503) : send(200, `bytes of ${name}`);
    if (name.startsWith('Broken')) return send(500);
    if (name.startsWith('Slow')) return; // never answers
    return send(404);
  }

  /**
   * Answer the held requests once `holdUntil` holds, after a short grace: a source that sends more
   * than its bound shows it meanwhile; a correct one cannot fail for it, however slow the machine.
   */
  release(): void {
    if (this.held.length === 0 || this.releasing || !(this.holdUntil?.() ?? true)) return;
    this.releasing = setTimeout(() => {
      this.releasing = null;
      for (const resolve of this.held.splice(0)) resolve();
    }, 50);
  }
}

const spec = (over: Partial<HttpBytesSpec> = {}): HttpBytesSpec => ({
  kind: 'http', url_template: '', user_agent: 'imgpipe-test/1 (test@example.org)', concurrency: 4, timeout_ms: 2000, retries: 3, ...over,
});
const text = (m: Map<string, Uint8Array>) => Object.fromEntries([...m].map(([k, v]) => [k, Buffer.from(v).toString()]));

let thumbs: ThumbServer;
beforeAll(async () => {
  thumbs = await new ThumbServer().start();
});
afterAll(() => thumbs.close());

describe('HttpByteSource', () => {
  it('fetches good bytes; 404 and 410 are misses, asked once; names are URL-encoded; the User-Agent is sent', async () => {
    const source = new HttpByteSource(spec({ url_template: thumbs.template() }), { backoffMs: 10 });
    const names = ['Good_1.jpg', 'Good ünï?#&=+%.jpg', 'Missing_1.jpg', 'Gone_1.jpg'];
    expect(text(await source.fetch(names))).toEqual({ 'Good_1.jpg': 'bytes of Good_1.jpg', 'Good ünï?#&=+%.jpg': 'bytes of Good ünï?#&=+%.jpg' });
    expect(source.url('A b/c?.jpg')).toBe(`http://127.0.0.1:${thumbs.port}/thumb/A%20b%2Fc%3F.jpg?width=400`);
    expect(thumbs.hits.filter((h) => names.includes(h.name)).map((h) => h.name).sort()).toEqual([...names].sort());
    expect(new Set(thumbs.hits.map((h) => h.userAgent))).toEqual(new Set(['imgpipe-test/1 (test@example.org)']));
    source.close();
  });

  it('honours 429 Retry-After (every request waits), and retries 503s with backoff', async () => {
    const source = new HttpByteSource(spec({ url_template: thumbs.template() }), { backoffMs: 20 });
    const started = Date.now();
    const got = await source.fetch(['Limited_1.jpg', 'Busy_1.jpg', 'Good_2.jpg']);
    expect(text(got)).toEqual({ 'Limited_1.jpg': 'bytes of Limited_1.jpg', 'Busy_1.jpg': 'bytes of Busy_1.jpg', 'Good_2.jpg': 'bytes of Good_2.jpg' });
    const limited = thumbs.hits.filter((h) => h.name === 'Limited_1.jpg');
    expect(limited).toHaveLength(2);
    expect(limited[1]!.at - limited[0]!.at).toBeGreaterThanOrEqual(950);
    expect(thumbs.hits.filter((h) => h.name === 'Busy_1.jpg')).toHaveLength(3);
    // About 1.1 s (Retry-After 1 s, backoff 20 ms); 15 s still catches a wait of the 60 s cap, or Retry-After read as minutes.
    expect(Date.now() - started).toBeLessThan(15_000);
    source.close();
  });

  it('bounds the requests in flight', async () => {
    const source = new HttpByteSource(spec({ url_template: thumbs.template(), concurrency: 3, timeout_ms: 60_000 }));
    thumbs.maxInFlight = 0;
    thumbs.heldAnswered = 0;
    const names = Array.from({ length: 15 }, (_, i) => `Held_c${i}.jpg`);
    // The server answers only once the bound is reached (or all that are left are in flight), so the
    // peak is the bound however slow the machine; a source that sends more shows it during the grace.
    thumbs.holdUntil = () => thumbs.inFlight >= Math.min(3, names.length - thumbs.heldAnswered);
    try {
      // Two concurrent fetch calls share the bound.
      const fetched = Promise.all([source.fetch(names.slice(0, 8)), source.fetch(names.slice(8))]);
      fetched.catch(() => undefined); // awaited below; not unhandled if the wait fails first
      await waitFor('3 requests in flight at once (a bound below 3 never gets there)', () => (thumbs.maxInFlight >= 3 ? true : null), 20_000);
      const [a, b] = await fetched;
      expect(a.size + b.size).toBe(15);
      expect(thumbs.maxInFlight).toBe(3);
    } finally {
      thumbs.holdUntil = null;
      thumbs.release();
      source.close();
    }
  });

  it('a few failing images become misses; when most of a batch fails the source throws (the partition is retried)', async () => {
    const source = new HttpByteSource(spec({ url_template: thumbs.template(), timeout_ms: 300, retries: 1 }), { backoffMs: 10 });
    const started = Date.now();
    const got = await source.fetch(['Good_f1.jpg', 'Good_f2.jpg', 'Good_f3.jpg', 'Slow_1.jpg', 'Forbidden_1.jpg']);
    expect([...got.keys()].sort()).toEqual(['Good_f1.jpg', 'Good_f2.jpg', 'Good_f3.jpg']);
    expect(thumbs.hits.filter((h) => h.name === 'Slow_1.jpg')).toHaveLength(2); // timed out twice
    expect(thumbs.hits.filter((h) => h.name === 'Forbidden_1.jpg')).toHaveLength(1); // not retried
    // Two tries of a 300 ms timeout, about 0.6 s; 15 s still catches timeout_ms read as seconds (300 s).
    expect(Date.now() - started).toBeLessThan(15_000);
    await expect(source.fetch(['Broken_1.jpg', 'Broken_2.jpg', 'Good_f4.jpg'])).rejects.toThrow(
      'HTTP byte source: 2 of 3 requests failed (first: Broken_1.jpg: HTTP 500 after 2 tries)',
    );
    source.close();
  });

  it('close() ends waits at once', async () => {
    const source = new HttpByteSource(spec({ url_template: thumbs.template(), timeout_ms: 60_000, retries: 5 }), { backoffMs: 60_000 });
    const pending = source.fetch(['Slow_2.jpg']);
    await thumbs.arrived('Slow_2.jpg'); // the request is in flight, and the server never answers it
    const closedAt = Date.now();
    source.close();
    await expect(pending).rejects.toThrow('HTTP byte source: 1 of 1 requests failed (first: Slow_2.jpg: source closed)');
    // Without close() the request would wait out its 60 s timeout; 15 s catches that with room for a slow machine.
    expect(Date.now() - closedAt).toBeLessThan(15_000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
    expect(() => new HttpByteSource(spec({ url_template: 'http://x/' }))).toThrow('HTTP byte source: the URL template has no {name}: http://x/');
  });
});

describe('imgpipe run --bytes-url', () => {
  const tmp = tempDir('imgpipe-http-');
  afterAll(() => tmp.cleanup());

  it('scores images fetched over HTTP; a 404 is a missing_bytes row', async () => {
    const wh = path.join(tmp.dir, 'wh');
    expect(imgpipe(['warehouse', 'init', '--warehouse', wh]).code).toBe(0);
    // Serve the bytes of a few generated images; the catalog lists one more that the server lacks.
    const sharp = (await import('sharp')).default;
    const names = ['Red.png', 'Green.png', 'Blue.png'];
    const colors = [[255, 0, 0], [0, 255, 0], [0, 0, 255]] as const;
    for (let i = 0; i < names.length; i++) {
      thumbs.bytes.set(names[i]!, await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: colors[i]![0], g: colors[i]![1], b: colors[i]![2] } } }).png().toBuffer());
    }
    const r = await imgpipeCollect([
      'run', '--warehouse', wh, '--model', 'color-embed', '--table', 'http_test', '--partitions-dir', path.join(tmp.dir, 'p'), '--json', '--quiet',
      '--sql', "SELECT 'Red.png' AS image_name UNION ALL SELECT 'Green.png' UNION ALL SELECT 'Blue.png' UNION ALL SELECT 'Missing_x.png'",
      '--bytes-url', thumbs.template(), '--bytes-concurrency', '2', '--bytes-timeout', '5', '--user-agent', 'imgpipe-e2e (ops@example.org)',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const rows = await query(`SELECT image_name, status, error, width, height FROM read_parquet(${lit(path.join(out.output, '*.parquet'))}) ORDER BY 1`);
    expect(rows).toEqual([
      { image_name: 'Blue.png', status: 'ok', error: null, width: 64, height: 48 },
      { image_name: 'Green.png', status: 'ok', error: null, width: 64, height: 48 },
      { image_name: 'Missing_x.png', status: 'error', error: 'missing_bytes', width: null, height: null },
      { image_name: 'Red.png', status: 'ok', error: null, width: 64, height: 48 },
    ]);
    expect(thumbs.hits.filter((h) => names.includes(h.name)).every((h) => h.userAgent === 'imgpipe-e2e (ops@example.org)')).toBe(true);
  });
});

describe('thumbnails by hash path: templates, preset, mirror', () => {
  const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

  it('expands {md5_1} {md5_2} {width} and MediaWiki thumbnail names per file type', () => {
    const t = '/{md5_1}/{md5_2}/{name}/{width}px-{name}';
    const h = md5('Ünï_Sculpture.jpg');
    expect(expandTemplate(t, 'Ünï_Sculpture.jpg', 320)).toBe(`/${h[0]}/${h.slice(0, 2)}/${encodeURIComponent('Ünï_Sculpture.jpg')}/${encodeURIComponent('320px-Ünï_Sculpture.jpg')}`);
    expect(thumbnailFileName('Plan.svg', 400)).toBe('400px-Plan.svg.png');
    expect(thumbnailFileName('Plan.SVG', 400)).toBe('400px-Plan.SVG.png');
    expect(thumbnailFileName('Scan.tiff', 400)).toBe('lossy-page1-400px-Scan.tiff.jpg');
    expect(thumbnailFileName('Book.pdf', 400)).toBe('page1-400px-Book.pdf.jpg');
    expect(thumbnailFileName('Book.djvu', 400)).toBe('page1-400px-Book.djvu.jpg');
    expect(thumbnailFileName('Clip.webm', 400)).toBe('400px--Clip.webm.jpg');
    expect(thumbnailFileName('Anim.gif', 400)).toBe('400px-Anim.gif');
    // The MD5 is of the underscored name, as MediaWiki stores it.
    expect(expandTemplate('{md5_2}', 'A b.jpg', null)).toBe(md5('A_b.jpg').slice(0, 2));
    expect(() => expandTemplate('{width}/{name}', 'A.jpg', null)).toThrow('HTTP byte source: the URL template uses {width} or {thumb} but no thumbnail width is set');
  });

  it('--bytes-preset commons-thumb, --bytes-mirror and --thumb-width resolve to one template and width', () => {
    expect(resolveClusterFlags({ bytesPreset: 'commons-thumb' }, {}).bytes).toMatchObject({
      kind: 'http', url_template: 'https://upload.wikimedia.org/wikipedia/commons/thumb/{md5_1}/{md5_2}/{name}/{thumb}', thumb_width: 400,
    });
    expect(resolveClusterFlags({ bytesPreset: 'commons-thumb', bytesMirror: 'http://thumbs.internal:8080/', thumbWidth: '250' }, {}).bytes).toMatchObject({
      url_template: 'http://thumbs.internal:8080/wikipedia/commons/thumb/{md5_1}/{md5_2}/{name}/{thumb}', thumb_width: 250,
    });
    expect(resolveClusterFlags({ bytesPreset: 'commons-thumb' }, { IMGPIPE_BYTES_MIRROR: 'https://mirror.example/up' }).bytes).toMatchObject({
      url_template: 'https://mirror.example/up/wikipedia/commons/thumb/{md5_1}/{md5_2}/{name}/{thumb}',
    });
    expect(resolveClusterFlags({ bytesUrl: 'http://h/{md5_1}/{md5_2}/{name}/{width}px-{name}' }, {}).bytes).toMatchObject({ url_template: 'http://h/{md5_1}/{md5_2}/{name}/{thumb}', thumb_width: 400 });
    expect(resolveClusterFlags({ bytesUrl: 'http://h/{name}' }, {}).bytes).not.toHaveProperty('thumb_width');
  });

  it.each([
    [{ bytesPreset: 'commons-thumb', bytesUrl: 'http://h/{name}' }, 'Expected one of --bytes-url and --bytes-preset but received both'],
    [{ bytesMirror: 'http://m' }, '--bytes-mirror replaces the host of a --bytes-preset: add --bytes-preset commons-thumb, or put the mirror in --bytes-url'],
    [{ bytesPreset: 'commons-thumb', bytesMirror: 'ftp://m' }, 'Expected an http(s) URL such as http://thumbs.internal:8080 or https://host/prefix for --bytes-mirror but received "ftp://m" of type string'],
    [{ bytesPreset: 'other' }, 'Expected one of: commons-thumb for --bytes-preset but received "other" of type string'],
    [{ bytesPreset: 'commons-thumb', thumbWidth: '0' }, 'Expected integer between 1 and 10000 for --thumb-width but received "0" of type string'],
    [{ bytesUrl: 'http://h/{name}', thumbWidth: '300' }, '--thumb-width is for a template with {width} or {thumb}, and "http://h/{name}" has neither'],
    [{ thumbWidth: '300' }, '--thumb-width is for HTTP bytes: add --bytes-url TEMPLATE or --bytes-preset commons-thumb, or drop it'],
  ])('%j is refused: %s', (flags, message) => {
    let error: unknown;
    try {
      resolveClusterFlags(flags, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(message);
  });
});
