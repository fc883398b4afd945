/**
 * The `training` object `imgpipe train` writes into a model card: what the head was trained on, how,
 * and how well it did on held-out images. Provenance for people and for `imgpipe report`; `run` does
 * not read it. The schema is lenient about extra fields (later versions may add some) and is used to
 * read the record back, never to reject a card.
 */
import { z } from 'zod';

const metricsSchema = z.object({
  n: z.number(),
  accuracy: z.number(),
  balanced_accuracy: z.number(),
  labels: z.array(z.string()),
  confusion: z.array(z.array(z.number())),
  per_class: z.record(z.string(), z.object({ precision: z.number().nullable(), recall: z.number().nullable(), support: z.number() })),
});

export const trainingRecordSchema = z.object({
  format: z.literal(1),
  tool: z.string(),
  created_at: z.string(),
  backbone: z.object({ name: z.string(), version: z.string(), sha256: z.string(), card: z.string(), normalize: z.enum(['none', 'l2']) }),
  data: z.object({
    /** The embedded warehouse's folder, or `hive://HOST:PORT/DB`, with the source profile if any. */
    warehouse: z.string(),
    /** Where the labels came from: `categories … (depth N)`, `--labels FILE`, `--labels-sql`. Absent in older records. */
    labels_from: z.string().optional(),
    /** Labelled names the catalog does not have, left out. */
    not_found_left_out: z.number().optional(),
    snapshot: z.string(),
    categories: z.array(z.string()),
    depth: z.number(),
    embeddings: z.object({ table: z.string(), partition: z.string(), run_id: z.string(), reused: z.boolean() }),
  }),
  counts: z.object({
    per_class: z.record(z.string(), z.object({ selected: z.number(), overlap_left_out: z.number(), error_left_out: z.number(), used: z.number(), train: z.number(), holdout: z.number() })),
    overlap_left_out: z.number(),
    error_left_out: z.number(),
    errors_by_reason: z.record(z.string(), z.number()),
  }),
  split: z.object({ holdout: z.number(), seed: z.number(), method: z.string() }),
  head: z.object({
    kind: z.string(),
    l2: z.number(),
    class_weights: z.string(),
    standardize: z.boolean(),
    optimizer: z.string(),
    iterations: z.number(),
    converged: z.boolean(),
    gradient_norm: z.number(),
    loss: z.number(),
  }),
  metrics: z.object({ holdout: metricsSchema, train: z.object({ n: z.number(), accuracy: z.number() }) }),
});

export type TrainingRecord = z.infer<typeof trainingRecordSchema>;

/** The record in a card's `training` field, or null when it is absent or not one of ours. */
export function readTrainingRecord(training: unknown): TrainingRecord | null {
  const parsed = trainingRecordSchema.safeParse(training);
  return parsed.success ? parsed.data : null;
}
