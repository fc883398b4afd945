/**
 * Finding and loading model cards. A model is named either by a path to a card (`…/model.json`, or a
 * folder holding one) or by name, looked up in order in: each `--models-dir DIR`, each entry of
 * `IMGPIPE_MODELS` (colon-separated), then the project's own `models/`. Each models dir holds one
 * folder per model with a `model.json` inside.
 *
 * Loading validates the card (strict: unknown fields are an error), resolves the ONNX path and the
 * labels, and checks the ONNX file's sha256 before any session is opened. Every failure is a
 * UsageError (exit 2) whose message names the card and the problem.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../util/errors.js';
import { validateInput } from '../util/validateInput.js';
import { modelCardSchema, type ModelCard } from './ModelCard.js';

/** The project's own models folder (`<package root>/models`), found from this module's location. */
export function projectModelsDir(): string {
  // dist/src/model/ → package root, or src/model/ → package root when run from sources.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'models');
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the imgpipe package root from ' + fileURLToPath(import.meta.url));
}

/** The folders searched for a model named without a path, in order. */
export function modelSearchPath(modelsDirs: readonly string[] = []): string[] {
  const fromEnv = (process.env.IMGPIPE_MODELS ?? '').split(':').filter((p) => p.length > 0);
  return [...modelsDirs, ...fromEnv, projectModelsDir()].map((d) => path.resolve(d));
}

/** A loaded, validated card with its paths resolved. */
export interface LoadedModel {
  card: ModelCard;
  /** Absolute path of model.json. */
  cardPath: string;
  /** Absolute path of the ONNX file. */
  onnxPath: string;
  /** Class labels (classifiers only), in output order. */
  labels: string[] | null;
  /** `<name>-<version>`: the value of the `model=` partition column. */
  qualifiedName: string;
}

/** Resolve a model name or card path to the card's absolute path. */
export function resolveCardPath(nameOrPath: string, modelsDirs: readonly string[] = []): string {
  const looksLikePath = nameOrPath.includes('/') || nameOrPath.endsWith('.json');
  if (looksLikePath) {
    const p = path.resolve(nameOrPath);
    const card = existsSync(p) && statSync(p).isDirectory() ? path.join(p, 'model.json') : p;
    if (!existsSync(card)) throw new UsageError(`Model card not found: ${card}`);
    return card;
  }
  const searched = modelSearchPath(modelsDirs);
  for (const dir of searched) {
    const card = path.join(dir, nameOrPath, 'model.json');
    if (existsSync(card)) return card;
  }
  const known = listModelCards(modelsDirs).map((m) => m.name);
  throw new UsageError(
    `Unknown model "${nameOrPath}". Searched: ${searched.join(', ')}. ` +
      (known.length ? `Known models: ${known.join(', ')}. ` : '') +
      'Pass a path to a model.json, add a folder with --models-dir, or register one with `imgpipe models add`.',
  );
}

/** Parse and validate a card file; does not touch the ONNX file. */
export function readModelCard(cardPath: string): ModelCard {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cardPath, 'utf8'));
  } catch (e) {
    throw new UsageError(`Model card ${cardPath} is not valid JSON: ${(e as Error).message}`);
  }
  return validateInput(modelCardSchema, raw, `Model card ${cardPath}`, 'the card');
}

/** sha256 of a file, hex, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Load a card by name or path, validate it, read its labels and verify the ONNX sha256.
 * @throws {UsageError} unknown model, invalid card, missing ONNX or labels file, sha256 mismatch.
 */
export async function loadModel(nameOrPath: string, modelsDirs: readonly string[] = []): Promise<LoadedModel> {
  const cardPath = resolveCardPath(nameOrPath, modelsDirs);
  const card = readModelCard(cardPath);
  const dir = path.dirname(cardPath);
  const onnxPath = path.resolve(dir, card.onnx);
  if (!existsSync(onnxPath)) throw new UsageError(`Model card ${cardPath}: onnx file not found: ${onnxPath}`);
  const actual = await sha256File(onnxPath);
  if (actual !== card.sha256) {
    throw new UsageError(
      `Model card ${cardPath}: sha256 of ${onnxPath} is ${actual} but the card says ${card.sha256}. ` +
        'The ONNX file changed or the card is stale; re-create the card with `imgpipe models add`.',
    );
  }
  let labels: string[] | null = null;
  if (card.task === 'classifier') {
    if (Array.isArray(card.output.labels)) labels = card.output.labels;
    else {
      const labelsPath = path.resolve(dir, card.output.labels);
      if (!existsSync(labelsPath)) throw new UsageError(`Model card ${cardPath}: labels file not found: ${labelsPath}`);
      labels = readFileSync(labelsPath, 'utf8').split(/\r?\n/).filter((l) => l.length > 0);
    }
    if (card.output.top_k > labels.length) {
      throw new UsageError(`Model card ${cardPath}: output.top_k is ${card.output.top_k} but there are only ${labels.length} labels`);
    }
  }
  return { card, cardPath, onnxPath, labels, qualifiedName: `${card.name}-${card.version}` };
}

/** One line per card found on the search path (first occurrence of a name wins, as in lookup). */
export interface ModelListing {
  name: string;
  cardPath: string;
  card: ModelCard | null;
  problem: string | null;
}

export function listModelCards(modelsDirs: readonly string[] = []): ModelListing[] {
  const seen = new Map<string, ModelListing>();
  for (const dir of modelSearchPath(modelsDirs)) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir).sort()) {
      const cardPath = path.join(dir, entry, 'model.json');
      if (seen.has(entry) || !existsSync(cardPath)) continue;
      try {
        seen.set(entry, { name: entry, cardPath, card: readModelCard(cardPath), problem: null });
      } catch (e) {
        seen.set(entry, { name: entry, cardPath, card: null, problem: (e as Error).message });
      }
    }
  }
  return [...seen.values()];
}
