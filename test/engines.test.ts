/**
 * imgpipe under other engines, tested without them (none can be installed here):
 *   - Spark: test/util/spark_standin.py does what Spark's executors and file commit protocol do
 *     around a piped process (spawn per task attempt, feed batches, read rows, retry a failed
 *     attempt, discard its output, commit the job); one task is SIGKILLed mid-stream.
 *     The real driver (integrations/spark/imgpipe_spark.py) is only compiled and checked for
 *     consistency with the CLI and the row contract; it is not run.
 *   - Airflow: the DAG file is parsed with Python's ast (Airflow is not installed); its commands
 *     are checked against `--help` and then run in order, templates rendered and XCom passed the
 *     way BashOperator does (the last stdout line).
 *   - Kubeflow: each component.yaml is loaded (PyYAML) and its flags checked against `--help`.
 *   - Containers: the Containerfiles are linted (no container runtime here; nothing is built),
 *     and their HEALTHCHECK commands are run against this build.
 *   - `--output-metadata` writes exactly what `--json` prints, for run, train and report.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program.js';
import { RESULT_COLUMNS } from '../src/sink/resultRow.js';
import { CLI, imgpipe, lit, query, REPO, tempDir, imgpipeInProcess, copyDemoWarehouse } from './util/cli.js';

const tmp = tempDir('imgpipe-engines-');
const wh = path.join(tmp.dir, 'wh');
const parts = path.join(tmp.dir, 'partitions');
afterAll(() => tmp.cleanup());

const python = (args: string[], input?: string) => {
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8', input, timeout: 600_000, maxBuffer: 64 * 2 ** 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
};
const pyJson = (args: string[]) => {
  const r = python(args);
  if (r.code !== 0) throw new Error(`python3 ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
};
const astOf = (file: string) =>
  pyJson([path.join(REPO, 'test', 'util', 'py_ast_dump.py'), file]) as {
    calls: { func: string; kwargs: Record<string, unknown> }[];
    assigns: Record<string, unknown>;
    shifts: string[][];
    function_lists: Record<string, string[]>;
  };

/** Every long flag a command's --help lists (the help text of the program `imgpipe` runs, built in this process). */
const helpFlags = new Map<string, Set<string>>();
function flagsOf(command: string): Set<string> {
  if (!helpFlags.has(command)) {
    const sub = buildProgram().commands.find((c) => c.name() === command);
    expect(sub, `imgpipe ${command}`).toBeDefined();
    helpFlags.set(command, new Set(sub!.helpInformation().match(/--[a-z][a-z0-9-]*/g) ?? []));
  }
  return helpFlags.get(command)!;
}

/** `imgpipe SUB …` segments of a shell command line, with Jinja templates as one placeholder word. */
function imgpipeCommands(shell: string): { sub: string; flags: string[] }[] {
  return shell
    .replace(/\{\{.*?\}\}/g, 'TEMPLATE')
    .split(/&&|\|\||;|\|/)
    .map((s) => s.trim().split(/\s+/))
    .filter((w) => w[0] === 'imgpipe')
    .map((w) => ({ sub: w[1]!, flags: w.filter((x) => x.startsWith('--')) }));
}

/** A bin folder whose `imgpipe` runs this build, for commands written for an installed imgpipe. */
function shimPath(): string {
  const bin = path.join(tmp.dir, 'bin');
  if (!existsSync(bin)) {
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'imgpipe'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(path.join(bin, 'imgpipe'), 0o755);
  }
  return `${bin}:${process.env.PATH}`;
}
const sh = (command: string, cwd = tmp.dir) => {
  const r = spawnSync('/bin/bash', ['-c', command], { cwd, encoding: 'utf8', env: { ...process.env, PATH: shimPath() }, timeout: 600_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
};

interface RunJson { run_id: string; output: string; selected: number; ok: number; error: number }
let run: RunJson;
let runRows: Map<string, Record<string, unknown>>;
let images: { image_name: string; page_id: bigint; sha1: string }[];
let bytesByName: Map<string, Uint8Array>;

beforeAll(async () => {
  copyDemoWarehouse(wh);
  images = (await query(`SELECT image_name, page_id, sha1 FROM read_parquet(${lit(path.join(wh, 'image', '*.parquet'))}) ORDER BY image_name`)) as typeof images;
  const blobs = await query(`SELECT image_name, bytes FROM read_parquet(${lit(path.join(wh, 'image_bytes', '*.parquet'))})`);
  bytesByName = new Map(blobs.map((b) => [b.image_name as string, new Uint8Array(b.bytes as Uint8Array)]));
}, 300_000);

describe('--output-metadata writes what --json prints', () => {
  const meta = (name: string) => path.join(tmp.dir, 'meta', 'nested', name);
  it('run (the file is created with its folders)', async () => {
    const r = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--all', '--lanes', '2', '--json', '--quiet', '--output-metadata', meta('run.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(meta('run.json'), 'utf8')).toBe(r.stdout);
    run = JSON.parse(r.stdout) as RunJson;
    expect(run.selected).toBe(images.length);
    const rows = await query(`SELECT * FROM read_parquet(${lit(path.join(run.output, '*.parquet'))})`);
    runRows = new Map(rows.map((x) => [x.image_name as string, x]));
    // Without --json, the summary is still written (and stdout has the human summary).
    const plain = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--sql', "SELECT image_name FROM image LIMIT 3", '--snapshot', '2026-02-02', '--quiet', '--output-metadata', meta('run2.json')]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain('committed.');
    expect(JSON.parse(readFileSync(meta('run2.json'), 'utf8')).selected).toBe(3);
  }, 300_000);

  it('run --plan-only', () => {
    const r = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--all', '--plan-only', '--json', '--output-metadata', meta('plan.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(meta('plan.json'), 'utf8')).toBe(r.stdout);
    expect(Object.keys(JSON.parse(r.stdout))).toContain('run_id');
  }, 120_000);

  it('report', () => {
    const r = imgpipe(['report', run.run_id, '--partitions-dir', parts, '--out', path.join(tmp.dir, 'report'), '--json', '--output-metadata', meta('report.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(meta('report.json'), 'utf8')).toBe(r.stdout);
    expect(JSON.parse(r.stdout).run_id).toBe(run.run_id);
  }, 300_000);

  it('train', () => {
    const r = imgpipe(['train', '--warehouse', wh, '--partitions-dir', parts, '--out-dir', path.join(tmp.dir, 'models'), '--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Night_scenes', '--no-report', '--json', '--quiet', '--output-metadata', meta('train.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(meta('train.json'), 'utf8')).toBe(r.stdout);
    expect(JSON.parse(r.stdout).model).toMatch(/sunsets-vs-night_scenes/);
  }, 300_000);

  it('a folder, or an empty path, is refused with exit 2 before any work; a failed command writes no file', async () => {
    for (const [args, message] of [
      [['run', '--warehouse', wh, '--model', 'quality-basic', '--all', '--output-metadata', tmp.dir], `imgpipe: error: Expected a file path for --output-metadata but ${tmp.dir} is a folder`],
      [['report', 'x', '--output-metadata', ''], 'imgpipe: error: Expected a file path for --output-metadata but received "" of type string\n'],
      [['train', '--warehouse', wh, '--backbone', 'color-embed', '--category', 'A', '--output-metadata', tmp.dir], `imgpipe: error: Expected a file path for --output-metadata but ${tmp.dir} is a folder`],
    ] as const) {
      const r = await imgpipeInProcess([...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
    }
    const failed = await imgpipeInProcess(['run', '--warehouse', wh, '--model', 'no-such-model', '--all', '--output-metadata', meta('never.json')]);
    expect(failed.code).toBe(2);
    expect(existsSync(meta('never.json'))).toBe(false);
  }, 120_000);
});

describe('Spark: the stand-in runs imgpipe pipe per partition, with a task killed and retried', () => {
  const comparable = (r: Record<string, unknown>) =>
    Object.fromEntries(RESULT_COLUMNS.filter((c) => c !== 'run_id' && c !== 'processed_at').map((c) => {
      const v = r[c];
      return [c, typeof v === 'bigint' ? Number(v) : v ?? null];
    }));

  it('every input row comes back exactly once, in the contract schema, equal to run; the killed attempt left nothing', () => {
    const input = path.join(tmp.dir, 'spark-in');
    const output = path.join(tmp.dir, 'spark-out');
    mkdirSync(input);
    const P = 4;
    const byPartition: string[][] = Array.from({ length: P }, () => []);
    images.forEach((img, i) => {
      const bytes = i % 2 === 0 ? bytesByName.get(img.image_name) : undefined; // half inline, half fetched
      const row = { image_name: img.image_name, page_id: Number(img.page_id), sha1: img.sha1, ...(bytes ? { bytes: Buffer.from(bytes).toString('base64') } : {}) };
      byPartition[i % P]!.push(JSON.stringify(row));
    });
    byPartition.forEach((rows, p) => writeFileSync(path.join(input, `part-${p}.jsonl`), rows.join('\n') + '\n'));
    const cmd = [process.execPath, CLI, 'pipe', '--model', 'quality-basic', '--warehouse', wh, '--input-format', 'jsonl', '--format', 'jsonl', '--run-id', 'spark-app-1', '--lanes', '1', '--window', '8'];
    const r = python([path.join(REPO, 'test', 'util', 'spark_standin.py'), '--input', input, '--output', output, '--cmd', JSON.stringify(cmd), '--kill', '1:0:20', '--parallelism', '2']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const summary = JSON.parse(r.stdout) as { committed: boolean; tasks: { partition: number; attempts: { attempt: number; ok: boolean; rows_written: number; detail: string; left_before_abort?: number }[] }[] };
    expect(summary.committed).toBe(true);
    const killed = summary.tasks.find((t) => t.partition === 1)!;
    expect(killed.attempts.map((a) => a.ok)).toEqual([false, true]);
    expect(killed.attempts[0]!.detail).toMatch(/^exit -9 \(killed\)/);
    // It was killed mid-stream: some rows were in its attempt file, not all, and they were discarded.
    expect(killed.attempts[0]!.left_before_abort).toBeGreaterThanOrEqual(20);
    expect(killed.attempts[0]!.left_before_abort).toBeLessThan(byPartition[1]!.length);
    expect(summary.tasks.filter((t) => t.partition !== 1).every((t) => t.attempts.length === 1 && t.attempts[0]!.ok)).toBe(true);

    expect(readdirSync(output).sort()).toEqual(['_SUCCESS', 'part-00000.jsonl', 'part-00001.jsonl', 'part-00002.jsonl', 'part-00003.jsonl']);
    const out = readdirSync(output).filter((f) => f.endsWith('.jsonl')).flatMap((f) =>
      readFileSync(path.join(output, f), 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>));
    const counts = new Map<string, number>();
    for (const o of out) counts.set(o.image_name as string, (counts.get(o.image_name as string) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(images.map((i) => i.image_name));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    for (const o of out) {
      expect(Object.keys(o)).toEqual([...RESULT_COLUMNS]);
      expect(o.run_id).toBe('spark-app-1');
      expect(comparable(o)).toEqual(comparable(runRows.get(o.image_name as string)!));
    }
  }, 300_000);

  it('a task that fails every attempt fails the job, and nothing becomes visible', () => {
    const input = path.join(tmp.dir, 'spark-in-bad');
    const output = path.join(tmp.dir, 'spark-out-bad');
    mkdirSync(input);
    writeFileSync(path.join(input, 'part-0.jsonl'), '{"image_name":"a.jpg"}\n');
    writeFileSync(path.join(input, 'part-1.jsonl'), '{"page_id":1}\n'); // malformed: exit 2 every time
    const cmd = [process.execPath, CLI, 'pipe', '--model', 'quality-basic', '--input-format', 'jsonl', '--format', 'jsonl', '--lanes', '1'];
    const r = python([path.join(REPO, 'test', 'util', 'spark_standin.py'), '--input', input, '--output', output, '--cmd', JSON.stringify(cmd), '--max-failures', '2']);
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.stdout);
    expect(summary.tasks[1].attempts.map((a: { detail: string }) => a.detail.slice(0, 6))).toEqual(['exit 2', 'exit 2']);
    expect(readdirSync(output)).toEqual([]);
  }, 120_000);

  it('the PySpark driver compiles, passes only flags `pipe --help` lists, and declares the contract columns', () => {
    const driver = path.join(REPO, 'integrations', 'spark', 'imgpipe_spark.py');
    expect(python(['-m', 'py_compile', driver]).code).toBe(0);
    const tree = astOf(driver);
    const passed = tree.function_lists.pipe_command!.filter((s) => s.startsWith('--'));
    expect(passed).toEqual(expect.arrayContaining(['--model', '--run-id', '--input-format', '--format', '--bytes-url']));
    for (const f of passed) expect(flagsOf('pipe'), f).toContain(f);
    expect(tree.function_lists.task_env_and_lanes!.filter((s) => s.startsWith('--')).every((f) => flagsOf('pipe').has(f))).toBe(true);
    const ddl = tree.assigns.RESULT_DDL as string;
    expect(ddl.split(/,\s*(?![^<]*>)/).map((c) => c.trim().split(' ')[0])).toEqual([...RESULT_COLUMNS]);
    expect(tree.assigns.INPUT_COLUMNS).toEqual(['image_name', 'page_id', 'sha1', 'bytes']);
    // A failed imgpipe must fail the task on both transports (PySpark's RDD.pipe ignores exit codes by default).
    expect(tree.calls.find((c) => c.func === 'pipe')?.kwargs.checkCode).toBe(true);
    expect(tree.calls.some((c) => c.func === 'mapInArrow')).toBe(true);
    expect(tree.function_lists.pipe_command).toContain('pipe');
    expect(sh(`bash -n ${path.join(REPO, 'integrations', 'spark', 'pack-runtime.sh')}`).code).toBe(0);
  }, 60_000);
});

describe('Airflow DAG', () => {
  const dagFile = path.join(REPO, 'integrations', 'airflow', 'imgpipe_nightly.py');
  const tasks = () => astOf(dagFile).calls.filter((c) => c.func === 'BashOperator').map((c) => c.kwargs as { task_id: string; bash_command: string; do_xcom_push?: boolean });

  it('parses; plan >> execute >> report with retries; every imgpipe flag exists', () => {
    const tree = astOf(dagFile);
    expect(tasks().map((t) => t.task_id)).toEqual(['plan', 'execute', 'report']);
    expect(tree.shifts).toContainEqual(['plan', 'execute', 'report']);
    expect((tree.assigns.default_args as { retries: number }).retries).toBeGreaterThanOrEqual(1);
    const commands = tasks().flatMap((t) => imgpipeCommands(t.bash_command));
    expect(commands.map((c) => c.sub)).toEqual(['run', 'run', 'report']);
    for (const c of commands) {
      expect(c.flags).toContain('--output-metadata');
      for (const f of c.flags) expect(flagsOf(c.sub), `${c.sub} ${f}`).toContain(f);
    }
    expect(tasks().every((t) => t.do_xcom_push === true)).toBe(true);
  }, 60_000);

  it('its commands run in order here, templates rendered and the run id passed through XCom', () => {
    const dag = astOf(dagFile).calls.find((c) => c.func === 'DAG')!.kwargs as { params: Record<string, string> };
    const root = path.join(tmp.dir, 'airflow');
    const params: Record<string, string> = { ...dag.params, warehouse: wh, partitions_dir: path.join(root, 'partitions'), metadata_dir: path.join(root, 'metadata'), reports_dir: path.join(root, 'reports') };
    expect(Object.keys(params).sort()).toEqual(Object.keys(dag.params).sort());
    const xcom = new Map<string, string>();
    const ds = '2026-03-03';
    const render = (template: string) =>
      template.replace(/\{\{\s*(.*?)\s*\}\}/g, (_, expr: string) => {
        if (expr === 'ds') return ds;
        let m = /^params\.(\w+)$/.exec(expr);
        if (m) return params[m[1]!]!;
        m = /^\(ti\.xcom_pull\(task_ids='(\w+)'\) \| fromjson\)\['(\w+)'\]$/.exec(expr);
        if (m) return String(JSON.parse(xcom.get(m[1]!)!)[m[2]!]);
        throw new Error(`the simulation does not know the template {{ ${expr} }}`);
      });
    for (const t of tasks()) {
      const r = sh(render(t.bash_command));
      expect(r.code, `${t.task_id}: ${r.stderr}`).toBe(0);
      xcom.set(t.task_id, r.stdout.trim().split('\n').pop()!); // BashOperator's XCom: the last line
    }
    const planned = JSON.parse(xcom.get('plan')!);
    const executed = JSON.parse(xcom.get('execute')!);
    const reported = JSON.parse(xcom.get('report')!);
    expect(executed.run_id).toBe(planned.run_id);
    expect(reported.run_id).toBe(planned.run_id);
    expect(executed.snapshot).toBe(ds);
    expect(executed.ok + executed.error).toBe(images.length);
    expect(existsSync(reported.index)).toBe(true);
    expect(reported.index.startsWith(path.join(params.reports_dir!, ds))).toBe(true);
  }, 300_000);
});

describe('Kubeflow components', () => {
  const files = ['run', 'train', 'report'].map((c) => path.join(REPO, 'integrations', 'kubeflow', c, 'component.yaml'));
  interface Spec { name: string; inputs: { name: string }[]; outputs: { name: string }[]; implementation: { container: { image: string; command: string[]; args: unknown[] } } }
  const load = (f: string) => pyJson(['-c', 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', f]) as Spec;
  /** Strings and placeholder references anywhere in args (inside if/then/else too). */
  const walk = (v: unknown, strings: string[], refs: { kind: string; name: string }[]) => {
    if (typeof v === 'string') strings.push(v);
    else if (Array.isArray(v)) v.forEach((x) => walk(x, strings, refs));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (['inputValue', 'outputPath', 'isPresent', 'inputPath'].includes(k) && typeof x === 'string') refs.push({ kind: k, name: x });
        else walk(x, strings, refs);
      }
    }
  };

  it.each(files.map((f) => [path.relative(REPO, f), f]))('%s: flags exist, placeholders name declared inputs/outputs, metadata via --output-metadata', (_rel, file) => {
    const spec = load(file);
    const [bin, sub] = spec.implementation.container.command;
    expect(bin).toBe('imgpipe');
    expect(path.basename(path.dirname(file))).toBe(sub);
    const strings: string[] = [];
    const refs: { kind: string; name: string }[] = [];
    walk(spec.implementation.container.args, strings, refs);
    const flags = strings.filter((s) => s.startsWith('--'));
    expect(flags.length).toBeGreaterThan(2);
    for (const f of flags) expect(flagsOf(sub!), `${sub} ${f}`).toContain(f);
    const inputs = new Set(spec.inputs.map((i) => i.name));
    const outputs = new Set(spec.outputs.map((o) => o.name));
    for (const r of refs) expect(r.kind === 'outputPath' ? outputs : inputs, `${r.kind} ${r.name}`).toContain(r.name);
    const args = spec.implementation.container.args;
    const i = args.indexOf('--output-metadata');
    expect(args[i + 1]).toEqual({ outputPath: 'metadata' });
    expect(spec.implementation.container.image).toMatch(/:[0-9][^:]*$/);
  }, 60_000);
});

describe('Containerfiles (linted, not built: no container runtime here)', () => {
  interface Instr { op: string; args: string }
  const parse = (file: string): Instr[] =>
    readFileSync(path.join(REPO, file), 'utf8')
      .replace(/\\\n/g, ' ')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => ({ op: l.split(/\s+/)[0]!.toUpperCase(), args: l.slice(l.split(/\s+/)[0]!.length).trim() }));
  const lastStage = (ins: Instr[]) => ins.slice(ins.map((i) => i.op).lastIndexOf('FROM'));

  it.each(['Containerfile', 'Containerfile.cuda'])('%s', (file) => {
    const ins = parse(file);
    const argDefaults = Object.fromEntries(ins.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string]));
    // Base images: pinned tags, never latest.
    for (const from of ins.filter((i) => i.op === 'FROM')) {
      const image = from.args.split(/\s+/)[0]!.replace(/\$\{(\w+)\}/g, (_, n: string) => argDefaults[n] ?? '');
      expect(image, from.args).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(image).not.toMatch(/:latest$/);
    }
    // Every COPY from the build context names something that exists.
    for (const copy of ins.filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
      const words = copy.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      for (const src of words.slice(0, -1)) expect(existsSync(path.join(REPO, src)), `${file}: COPY ${src}`).toBe(true);
    }
    // Context exclusions must not hide what is copied.
    const ignored = readFileSync(path.join(REPO, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    for (const copy of ins.filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
      for (const src of copy.args.split(/\s+/).slice(0, -1)) expect(ignored).not.toContain(src);
    }
    const final = lastStage(ins);
    const user = final.filter((i) => i.op === 'USER').pop()?.args;
    expect(user, 'the final stage sets USER').toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
    expect(final.find((i) => i.op === 'ENTRYPOINT')?.args).toBe('["imgpipe"]');
    const health = final.find((i) => i.op === 'HEALTHCHECK')!.args;
    expect(health).toMatch(/CMD .*imgpipe(", "| )doctor/);
    if (file.endsWith('.cuda')) expect(ins.some((i) => i.op === 'ENV' && i.args.includes('ONNXRUNTIME_NODE_INSTALL=cuda12'))).toBe(true);
  });

  it('the HEALTHCHECK commands run against this build: CPU healthy; CUDA healthy exactly when the cuda provider loads', () => {
    const cmdOf = (file: string) => JSON.parse(lastStage(parse(file)).find((i) => i.op === 'HEALTHCHECK')!.args.replace(/^.*?CMD\s+/, '')) as string[];
    const run = (argv: string[]) => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, PATH: shimPath() }, timeout: 120_000 }).status;
    expect(run(cmdOf('Containerfile'))).toBe(0);
    const doctor = JSON.parse(imgpipe(['doctor', '--json']).stdout) as { providers: { provider: string; loads: boolean }[] };
    const cudaLoads = doctor.providers.find((p) => p.provider === 'cuda')!.loads;
    expect(run(cmdOf('Containerfile.cuda'))).toBe(cudaLoads ? 0 : 1);
  }, 120_000);
});
