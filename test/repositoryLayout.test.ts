/**
 * The import rules of the repository layout (ARCHITECTURE.md, "Repository layout"), read from the
 * TypeScript sources: src/ imports only src/ and the package's `dependencies`; nothing imports
 * bench/ but bench/ itself; every bare import names a package that package.json declares.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './util/cli.js';

const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const BUILTINS = new Set(builtinModules);

interface Import {
  file: string;
  spec: string;
}

/** Every import specifier (static, dynamic, type-only, re-export) in the .ts files under `dir`. */
function importsUnder(dir: string): Import[] {
  const files = (readdirSync(path.join(REPO, dir), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => `${dir}/${f.split(path.sep).join('/')}`);
  // import/export … from, over several lines too; side-effect imports; dynamic import calls.
  const specifier = /(?:^\s*(?:import|export)\b[^;'"]*?\bfrom\s*|^\s*import\s*|\bimport\(\s*)['"]([^'"]+)['"]/gm;
  return files.flatMap((file) => [...readFileSync(path.join(REPO, file), 'utf8').matchAll(specifier)].map(([, spec]) => ({ file, spec: spec! })));
}

/** The top folder of the repository a relative import lands in. */
const targetRoot = ({ file, spec }: Import) => path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).split('/')[0]!;

/** `@scope/name` or `name` of a bare specifier. */
const packageOf = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

const isBuiltin = (spec: string) => spec.startsWith('node:') || BUILTINS.has(packageOf(spec));

/**
 * Undeclared packages a test reaches on purpose, with why. To remove: resolve it through the
 * package that declares it (as bench/sinkCandidates.ts does for DuckDB's C API).
 */
const UNDECLARED_ON_PURPOSE: Record<string, string> = {
  'node-int64': "test/util/hiveServer2.ts: thrift's own i64 value class (thrift declares it)",
};

const show = ({ file, spec }: Import) => `${file}: ${spec}`;

describe('the repository layout', () => {
  const src = importsUnder('src');
  const others = ['test', 'scripts', 'bench'].flatMap(importsUnder);

  it('src/ imports only src/ and the package dependencies (it is what ships)', () => {
    expect(src.length).toBeGreaterThan(200);
    expect(src.filter((i) => i.spec.startsWith('.') && targetRoot(i) !== 'src').map(show)).toEqual([]);
    const declared = new Set(Object.keys(pkg.dependencies));
    expect(src.filter((i) => !i.spec.startsWith('.') && !isBuiltin(i.spec) && !declared.has(packageOf(i.spec))).map(show)).toEqual([]);
  });

  it('nothing outside bench/ imports bench/', () => {
    const fromTestsAndTools = others.filter((i) => !i.file.startsWith('bench/') && i.spec.startsWith('.'));
    expect(fromTestsAndTools.length).toBeGreaterThan(50);
    expect(fromTestsAndTools.filter((i) => targetRoot(i) === 'bench').map(show)).toEqual([]);
  });

  it('tests, developer tools and the bench import only declared packages', () => {
    const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]);
    const bare = others.filter((i) => !i.spec.startsWith('.') && !isBuiltin(i.spec));
    expect(bare.length).toBeGreaterThan(20);
    expect(bare.filter((i) => !declared.has(packageOf(i.spec)) && !(packageOf(i.spec) in UNDECLARED_ON_PURPOSE)).map(show)).toEqual([]);
  });
});
