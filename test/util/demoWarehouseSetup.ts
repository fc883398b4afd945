/**
 * vitest globalSetup: builds one demo warehouse with the real CLI (`imgpipe warehouse init --demo`,
 * from dist/, which `npm test` builds first) before any test file runs, and removes it after. Test
 * files that need a demo warehouse copy it (`copyDemoWarehouse`, test/util/cli.ts) instead of
 * generating their own: the set is deterministic (test/warehouse.test.ts checks that, and runs
 * `init --demo` itself), and generating it costs ~6 s of CPU per file on a 2-core machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    demoWarehouse: string;
  }
}

export default function setup(project: TestProject): () => void {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'imgpipe-demo-wh-'));
  const wh = path.join(dir, 'wh');
  const r = spawnSync(process.execPath, [path.join(repo, 'dist', 'src', 'cli', 'bin.js'), 'warehouse', 'init', '--warehouse', wh, '--demo'], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`imgpipe warehouse init --demo failed (exit ${r.status}); run \`npm run build\` first?\n${r.stderr}`);
  project.provide('demoWarehouse', wh);
  return () => rmSync(dir, { recursive: true, force: true });
}
