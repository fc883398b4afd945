/**
 * Thumbnails over HTTP from a URL template, e.g.
 * `https://commons.wikimedia.org/wiki/Special:FilePath/{name}?width=400`, where `{name}` becomes the
 * URL-encoded Commons file name, or by hash path
 * (`…/thumb/{md5_1}/{md5_2}/{name}/{width}px-{name}`; placeholders in thumbnailUrl.ts). Polite by construction: a User-Agent naming the tool and a contact,
 * at most `concurrency` requests in flight per process (p-limit, shared by concurrent `fetch` calls),
 * a per-request timeout (AbortSignal), and retries with exponential backoff and jitter that honour
 * `Retry-After` on 429 and 503 (every request of the source waits until the time the server named).
 *
 * Outcomes per name: 2xx → bytes; 404/410 → a miss (`missing_bytes` row), not retried; 408, 429,
 * 5xx, timeouts and network errors → retried up to `retries` times; other statuses (400, 401, 403 …)
 * and exhausted retries → a failure. Failures of a few names become misses (logged); when more than
 * half of a `fetch` call's names fail, the source itself is failing and `fetch` throws (the partition
 * attempt is retried later) instead of writing a partition of error rows.
 */
import { setTimeout as delay } from 'node:timers/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Logger } from 'pino';
import type { ByteSource } from './ByteSource.js';
import type { HttpBytesSpec } from './byteSourceSpec.js';
import { expandTemplate, templateNeedsWidth } from './thumbnailUrl.js';

export interface HttpByteSourceOptions {
  log?: Logger;
  /** First backoff; doubled per retry, with ±50 % jitter. @defaultValue 500 */
  backoffMs?: number;
  /** Longest wait between tries (also caps Retry-After). @defaultValue 60000 */
  maxWaitMs?: number;
}

type Outcome = { kind: 'ok'; bytes: Uint8Array } | { kind: 'missing' } | { kind: 'failed'; reason: string };

export class HttpByteSource implements ByteSource {
  private readonly limit: LimitFunction;
  /** Set by a 429/503 with Retry-After: no request of this source starts before it. */
  private notBefore = 0;
  private readonly controller = new AbortController();

  constructor(
    readonly spec: HttpBytesSpec,
    private readonly options: HttpByteSourceOptions = {},
  ) {
    if (!spec.url_template.includes('{name}')) throw new Error(`HTTP byte source: the URL template has no {name}: ${spec.url_template}`);
    if (templateNeedsWidth(spec.url_template) && spec.thumb_width === undefined) throw new Error(`HTTP byte source: the URL template uses {width} or {thumb} but no thumb_width is set: ${spec.url_template}`);
    this.limit = pLimit(spec.concurrency);
  }

  /** The URL for a Commons file name. */
  url(name: string): string {
    return expandTemplate(this.spec.url_template, name, this.spec.thumb_width ?? null);
  }

  async fetch(imageNames: readonly string[]): Promise<Map<string, Uint8Array>> {
    const unique = [...new Set(imageNames)];
    const outcomes = await Promise.all(unique.map((name) => this.limit(() => this.fetchOne(name))));
    const found = new Map<string, Uint8Array>();
    const failures: string[] = [];
    outcomes.forEach((o, i) => {
      if (o.kind === 'ok') found.set(unique[i]!, o.bytes);
      else if (o.kind === 'failed') failures.push(`${unique[i]}: ${o.reason}`);
    });
    if (failures.length > 0 && failures.length * 2 > unique.length) {
      throw new Error(`HTTP byte source: ${failures.length} of ${unique.length} requests failed (first: ${failures[0]})`);
    }
    for (const f of failures) this.options.log?.warn({ failure: f }, 'HTTP bytes: giving up on one image; it becomes a missing_bytes row');
    return found;
  }

  close(): void {
    this.controller.abort();
  }

  private async fetchOne(name: string): Promise<Outcome> {
    const url = this.url(name);
    let lastReason = '';
    for (let attempt = 0; attempt <= this.spec.retries; attempt++) {
      const wait = this.notBefore - Date.now();
      if (wait > 0) await this.sleep(wait);
      if (this.controller.signal.aborted) return { kind: 'failed', reason: 'source closed' };
      let retryAfterMs: number | null = null;
      try {
        const response = await fetch(url, {
          headers: { 'user-agent': this.spec.user_agent, accept: 'image/*' },
          redirect: 'follow',
          signal: AbortSignal.any([AbortSignal.timeout(this.spec.timeout_ms), this.controller.signal]),
        });
        if (response.ok) return { kind: 'ok', bytes: new Uint8Array(await response.arrayBuffer()) };
        await response.body?.cancel().catch(() => {});
        if (response.status === 404 || response.status === 410) return { kind: 'missing' };
        lastReason = `HTTP ${response.status}`;
        const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
        if (!retryable) return { kind: 'failed', reason: lastReason };
        if (response.status === 429 || response.status === 503) {
          retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
          if (retryAfterMs !== null) this.notBefore = Math.max(this.notBefore, Date.now() + Math.min(retryAfterMs, this.maxWait));
        }
      } catch (e) {
        const err = e as Error;
        lastReason = err.name === 'TimeoutError' ? `timed out after ${this.spec.timeout_ms} ms` : `${err.message}${(err.cause as Error | undefined)?.message ? ` (${(err.cause as Error).message})` : ''}`;
        if (this.controller.signal.aborted) return { kind: 'failed', reason: 'source closed' };
      }
      if (attempt < this.spec.retries) {
        const backoff = Math.min((this.options.backoffMs ?? 500) * 2 ** attempt * (0.5 + Math.random()), this.maxWait);
        await this.sleep(retryAfterMs !== null ? Math.min(Math.max(retryAfterMs, 0), this.maxWait) : backoff);
      }
    }
    return { kind: 'failed', reason: `${lastReason} after ${this.spec.retries + 1} tries` };
  }

  private get maxWait(): number {
    return this.options.maxWaitMs ?? 60_000;
  }

  /** Wait, cut short by close(). */
  private async sleep(ms: number): Promise<void> {
    await delay(ms, undefined, { signal: this.controller.signal }).catch(() => {});
  }
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
