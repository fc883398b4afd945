/**
 * What `npm pack` ships: the compiled product, the built-in models and the docs — no benchmark,
 * exploration, test or source maps of scripts. Runs the real `npm pack --dry-run`.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO } from './util/cli.js';

describe('the npm package', () => {
  it('ships the CLI, its modules and the built-in models, and nothing of bench, scripts or tests', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/src/cli/bin.js');
    expect(files).toContain('dist/src/exec/scoring/scoringThread.js');
    expect(files).toContain('models/quality-basic/model.onnx');
    expect(files).toContain('README.md');
    const stray = files.filter((f) => /^(dist\/)?(scripts|test|bench)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts'));
    expect(stray).toEqual([]);
  }, 60_000);
});
