/**
 * A table written before the result row gained the detector columns (detections, keypoints, count,
 * max_area_ratio, sum_area_ratio) keeps working: an incremental run carries its rows forward next to
 * new parts with the full schema, compaction merges both (by column name), and readers see one table.
 */
import { mkdirSync, readdirSync, realpathSync, renameSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { imgpipe, lit, query, tempDir } from './util/cli.js';

const tmp = tempDir('imgpipe-upgrade-');
afterAll(() => tmp.cleanup());

describe('a snapshot in the older row schema', () => {
  it('is carried forward and compacted together with new parts', async () => {
    const src = path.join(tmp.dir, 'photos');
    const wh = path.join(tmp.dir, 'wh');
    const parts = path.join(tmp.dir, 'partitions');
    mkdirSync(src, { recursive: true });
    for (let i = 0; i < 6; i++) await sharp({ create: { width: 200, height: 150, channels: 3, background: { r: 30 * i, g: 90, b: 160 } } }).jpeg().toFile(path.join(src, `p${i}.jpg`));
    expect(imgpipe(['warehouse', 'import', src, '--warehouse', wh]).code).toBe(0);
    const run = (...args: string[]) => {
      const r = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--all', '--incremental', '--json', '--quiet', '--partition-size', '2', ...args]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { output: string; incremental: { carried_forward: number; scored: number } };
    };
    const day1 = run('--snapshot', '2026-06-01');
    // Rewrite day 1's parts as an older imgpipe wrote them: without the detector columns.
    const dir = realpathSync(day1.output);
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.parquet'))) {
      const file = path.join(dir, f);
      await query(`COPY (SELECT * EXCLUDE (detections, keypoints, count, max_area_ratio, sum_area_ratio) FROM read_parquet(${lit(file)})) TO ${lit(file + '.old')} (FORMAT parquet)`);
      renameSync(file + '.old', file);
    }
    expect((await query(`DESCRIBE SELECT * FROM read_parquet(${lit(path.join(dir, '*.parquet'))})`)).map((c) => c.column_name)).not.toContain('detections');
    // Day 2: one image changed; five carried in the old schema, one scored in the new one, compacted.
    await sharp({ create: { width: 210, height: 150, channels: 3, background: { r: 255, g: 255, b: 255 } } }).jpeg().toFile(path.join(src, 'p0.jpg'));
    expect(imgpipe(['warehouse', 'import', src, '--warehouse', wh]).code).toBe(0);
    const day2 = run('--snapshot', '2026-06-02');
    expect(day2.incremental).toMatchObject({ carried_forward: 5, scored: 1 });
    const rows = await query(`SELECT image_name, status, label, count FROM read_parquet(${lit(path.join(day2.output, '*.parquet'))}, union_by_name = true) ORDER BY image_name`);
    expect(rows.map((r) => r.image_name)).toEqual(['p0.jpg', 'p1.jpg', 'p2.jpg', 'p3.jpg', 'p4.jpg', 'p5.jpg']);
    expect(rows.every((r) => r.status === 'ok' && typeof r.label === 'string' && r.count === null)).toBe(true);
    const check = imgpipe(['table', 'check', '--warehouse', wh]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  }, 180_000);
});
