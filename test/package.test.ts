/**
 * What `npm pack` ships (package.json `files`): the compiled product, `dist/src/**` JavaScript only
 * (the source maps point at .ts sources that do not ship, so they stay out too), the built-in models
 * and the docs. No benchmark (bench/, dist/bench), developer tools (scripts/, dist/scripts), tests
 * or TypeScript. Runs the real `npm pack --dry-run` on the built tree (`npm test` builds first; the
 * build empties dist/src, so nothing of a deleted module is left to ship).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './util/cli.js';

let files: string[] = [];

beforeAll(() => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path).sort();
}, 60_000);

/** Every file under `dir` (relative to the repository, `/`-separated). */
function filesUnder(dir: string): string[] {
  return (readdirSync(path.join(REPO, dir), { recursive: true }) as string[])
    .map((f) => `${dir}/${f.split(path.sep).join('/')}`)
    .filter((f) => statSync(path.join(REPO, f)).isFile());
}

describe('the npm package', () => {
  it('ships the CLI entry points, the scoring thread, every built-in model file and the docs', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const bins = Object.values(pkg.bin).map((b) => path.posix.normalize(b));
    expect(bins.length).toBeGreaterThan(0);
    for (const bin of bins) expect(files).toContain(bin);
    expect(files).toContain('dist/src/exec/scoring/scoringThread.js');
    const models = filesUnder('models');
    expect(models).toContain('models/quality-basic/model.onnx');
    expect(models).toContain('models/color-embed/model.onnx');
    expect(files.filter((f) => f.startsWith('models/'))).toEqual(models.sort());
    for (const doc of ['README.md', 'ARCHITECTURE.md', 'package.json']) expect(files).toContain(doc);
    if (existsSync(path.join(REPO, 'LICENSE'))) expect(files).toContain('LICENSE');
  });

  it('ships nothing else: no bench, scripts or tests, no TypeScript, no source maps', () => {
    const allowed = /^(dist\/src\/.+\.js|models\/.+|README\.md|ARCHITECTURE\.md|package\.json|LICENSE)$/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
    expect(files.filter((f) => /^(dist\/)?(bench|scripts|test|tools)\//.test(f) || /\.(ts|map)$/.test(f))).toEqual([]);
  });

  it('ships only modules compiled from src/, and every module they load', () => {
    const shipped = new Set(files);
    const js = files.filter((f) => f.startsWith('dist/src/'));
    expect(js.filter((f) => !existsSync(path.join(REPO, f.replace(/^dist\//, '').replace(/\.js$/, '.ts'))))).toEqual([]);
    // Relative static and dynamic imports, and worker entry points (`new URL('./x.js', import.meta.url)`).
    const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|new URL\(\s*)['"](\.\.?\/[^'"]+)['"]/g;
    const missing: string[] = [];
    let checked = 0;
    for (const file of js) {
      const source = readFileSync(path.join(REPO, file), 'utf8');
      for (const [, spec] of source.matchAll(specifier)) {
        checked++;
        const target = path.posix.join(path.posix.dirname(file), spec!);
        if (!shipped.has(target)) missing.push(`${file} → ${spec}`);
      }
    }
    expect(js.length).toBeGreaterThan(50);
    expect(checked).toBeGreaterThan(js.length);
    expect(missing).toEqual([]);
  });
});
