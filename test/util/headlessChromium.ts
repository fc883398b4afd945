/**
 * A real headless Chromium for tests, driven over the DevTools protocol on a pipe
 * (`--remote-debugging-pipe`: JSON messages separated by NUL on file descriptors 3 and 4), so no
 * browser download, no npm package and no network port are involved. Flags keep Chromium off the
 * network (this machine has none) and out of the user's profile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = process.env.IMGPIPE_CHROMIUM ?? '/usr/bin/chromium';

/** Null when Chromium can be started here; otherwise why not (for a printed skip reason). */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (Debian package "chromium"; .ci/run installs it; IMGPIPE_CHROMIUM overrides the path)`;
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

export class HeadlessPage {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners: ((m: { method?: string; sessionId?: string }) => void)[] = [];
  private sessionId = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
  ) {
    const input = child.stdio[4] as Readable;
    let buffer = '';
    input.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      for (let i = buffer.indexOf('\0'); i >= 0; i = buffer.indexOf('\0')) {
        const msg = JSON.parse(buffer.slice(0, i)) as { id?: number; error?: unknown; result?: Record<string, unknown>; method?: string; sessionId?: string };
        buffer = buffer.slice(i + 1);
        const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
        if (p) {
          this.pending.delete(msg.id!);
          if (msg.error) p.reject(new Error(`DevTools: ${JSON.stringify(msg.error)}`));
          else p.resolve(msg.result ?? {});
        } else for (const l of this.listeners) l(msg);
      }
    });
    child.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error('Chromium exited'));
      this.pending.clear();
    });
  }

  /** Start Chromium with a fresh profile and open one page of `width` × `height` CSS pixels. */
  static async open(width = 1280, height = 900): Promise<HeadlessPage> {
    const profile = mkdtempSync(path.join(os.tmpdir(), 'imgpipe-chromium-'));
    const child = spawn(
      CHROMIUM,
      [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-extensions', '--hide-scrollbars', '--mute-audio',
        `--user-data-dir=${profile}`, `--window-size=${width},${height}`, '--remote-debugging-pipe', 'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] },
    );
    const page = new HeadlessPage(child, profile);
    try {
      const { targetId } = await page.send('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await page.send('Target.attachToTarget', { targetId, flatten: true });
      page.sessionId = String(sessionId);
      await page.send('Page.enable', {}, true);
      await page.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false }, true);
    } catch (e) {
      page.close();
      throw e;
    }
    return page;
  }

  private send(method: string, params: Record<string, unknown> = {}, onPage = false, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const id = ++this.nextId;
    const out = this.child.stdio[3] as Writable;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`DevTools: ${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      out.write(JSON.stringify({ id, method, params, ...(onPage ? { sessionId: this.sessionId } : {}) }) + '\0');
    });
  }

  /** Navigate and wait for the load event (every non-lazy image has loaded or failed by then). */
  async goto(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => this.listeners.push((m) => m.method === 'Page.loadEventFired' && m.sessionId === this.sessionId && resolve()));
    const nav = await this.send('Page.navigate', { url }, true);
    if (nav.errorText) throw new Error(`Chromium could not open ${url}: ${String(nav.errorText)}`);
    await loaded;
  }

  /** Evaluate an expression in the page; its value must be JSON-serializable. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, true);
    if (r.exceptionDetails) throw new Error(`page script failed: ${JSON.stringify(r.exceptionDetails)}`);
    return (r.result as { value: T }).value;
  }

  /** PNG of the whole page (not just the viewport), written to `file`; returns its size in bytes. */
  async screenshot(file: string): Promise<number> {
    const metrics = await this.send('Page.getLayoutMetrics', {}, true);
    const size = (metrics.cssContentSize ?? metrics.contentSize) as { width: number; height: number };
    const clip = { x: 0, y: 0, width: Math.ceil(size.width), height: Math.min(Math.ceil(size.height), 16_000), scale: 1 };
    const r = await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip }, true, 60_000);
    const bytes = Buffer.from(String(r.data), 'base64');
    writeFileSync(file, bytes);
    return bytes.length;
  }

  close(): void {
    try {
      (this.child.stdio[3] as Writable).write(JSON.stringify({ id: ++this.nextId, method: 'Browser.close', params: {} }) + '\0');
    } catch {
      // already gone
    }
    const child = this.child;
    setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, 2000).unref();
    child.once('exit', () => rmSync(this.profile, { recursive: true, force: true }));
  }
}
