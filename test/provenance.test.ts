/**
 * Provenance through the CLI: a row's sha1 is the sha1 of the bytes that were scored. A
 * `warehouse import` between planning and execution that replaces a file's bytes makes that image a
 * `bytes_changed` error row (its plan names the old sha1), never an ok row with the wrong sha1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { imgpipe, lit, query, tempDir } from './util/cli.js';

const tmp = tempDir('imgpipe-provenance-');
afterAll(() => tmp.cleanup());

const jpeg = (r: number) => sharp({ create: { width: 320, height: 240, channels: 3, background: { r, g: 120, b: 60 } } }).jpeg().toBuffer();

describe('provenance', () => {
  it('bytes replaced by an import after planning become a bytes_changed row; the rest score as planned', async () => {
    const src = path.join(tmp.dir, 'photos');
    const wh = path.join(tmp.dir, 'wh');
    const parts = path.join(tmp.dir, 'partitions');
    mkdirSync(src, { recursive: true });
    for (const [i, name] of ['a.jpg', 'b.jpg', 'c.jpg'].entries()) writeFileSync(path.join(src, name), await jpeg(40 * i));
    expect(imgpipe(['warehouse', 'import', src, '--warehouse', wh]).code).toBe(0);
    const planned = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--all', '--plan-only', '--json']);
    expect(planned.code, planned.stderr).toBe(0);
    const runId = (JSON.parse(planned.stdout) as { run_id: string }).run_id;
    // A re-upload of b.jpg lands in the warehouse before the run executes.
    writeFileSync(path.join(src, 'b.jpg'), await jpeg(250));
    const reimported = imgpipe(['warehouse', 'import', src, '--warehouse', wh]);
    expect(reimported.code, reimported.stderr).toBe(0);
    const r = imgpipe(['run', '--resume', runId, '--partitions-dir', parts, '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { output: string; error_reasons: Record<string, number> };
    expect(out.error_reasons).toEqual({ bytes_changed: 1 });
    const rows = await query(`SELECT image_name, status, error FROM read_parquet(${lit(path.join(out.output, '*.parquet'))}) ORDER BY image_name`);
    expect(rows.map((x) => [x.image_name, x.status, x.error])).toEqual([
      ['a.jpg', 'ok', null],
      ['b.jpg', 'error', 'bytes_changed'],
      ['c.jpg', 'ok', null],
    ]);
  }, 120_000);
});
