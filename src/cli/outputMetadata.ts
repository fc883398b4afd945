/**
 * `--output-metadata PATH` (run, train, report): write the command's `--json` summary to a file as
 * well — Kubeflow Pipelines' output path, Airflow's XCom file (/airflow/xcom/return.json for a
 * KubernetesPodOperator), or a file a BashOperator cats. The JSON is exactly what `--json` prints,
 * one object and a newline.
 *
 * The file is written whole (`writeFileAtomic`: a temporary file in the same folder, then a rename), so a reader never
 * sees half of it; missing parent folders are created (KFP does not create them). It is written only
 * when the command reaches its summary: a failed command leaves no file (or the previous one).
 */
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Option } from 'commander';
import { UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomicWrite.js';
import { invalidParameterError } from '../util/is.js';

export function outputMetadataOption(): Option {
  return new Option('--output-metadata <path>', 'also write the --json summary to this file (a Kubeflow output path, an Airflow XCom file)');
}

/** Checks the flag before any work: empty, or a path that is a folder, is refused. */
export function checkOutputMetadataPath(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  if (file.trim() === '') throw invalidParameterError('--output-metadata', 'a file path', file);
  let isDir = false;
  try {
    isDir = statSync(file).isDirectory();
  } catch {
    // absent: fine, it is created
  }
  if (isDir) throw new UsageError(`Expected a file path for --output-metadata but ${file} is a folder`);
  return path.resolve(file);
}

/** Write `summary` as one JSON line to `file` (atomically). No-op when `file` is undefined. */
export function writeOutputMetadata(file: string | undefined, summary: unknown): void {
  if (file === undefined) return;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, JSON.stringify(summary) + '\n');
}
