/**
 * A sanity bound on `--batch-size` from the card's input tensor, checked before any work: a batch
 * size whose tensors cannot fit in memory is refused (exit 2) with the estimate and the largest
 * batch size that fits, never clamped.
 *
 * Estimate: C × H × W × dtype bytes per image, × batch size, × BATCHES_IN_FLIGHT (the pooled
 * topology keeps three scorer calls of one batch each in flight — decoding, waiting, inferring — plus
 * the one being fetched; a lane holds at most its own two calls, so lanes need less per lane).
 * Only input tensors are counted: the model's own memory and its outputs come on top.
 */
import { UsageError } from '../util/errors.js';
import type { ModelInput } from './ModelCard.js';

/** Batches of input tensors alive at once in a partition's pipeline. */
export const BATCHES_IN_FLIGHT = 4;

/** The most input-tensor memory a run may plan for. @defaultValue 2 GiB */
export const BATCH_MEMORY_BOUND = 2 * 2 ** 30;

const CHANNELS = 3;
const DTYPE_BYTES: Record<ModelInput['dtype'], number> = { float32: 4, uint8: 1 };

/** Bytes of input tensors in flight for `batchSize` images of this input. */
export function batchTensorBytes(input: Pick<ModelInput, 'height' | 'width' | 'dtype'>, batchSize: number): number {
  return CHANNELS * input.height * input.width * DTYPE_BYTES[input.dtype] * batchSize * BATCHES_IN_FLIGHT;
}

/** The largest batch size whose tensors fit in `bound` bytes (0 when not even one image does). */
export function largestBatchThatFits(input: Pick<ModelInput, 'height' | 'width' | 'dtype'>, bound = BATCH_MEMORY_BOUND): number {
  return Math.floor(bound / batchTensorBytes(input, 1));
}

/**
 * @throws {UsageError} when `batchSize` images' tensors, BATCHES_IN_FLIGHT times over, exceed `bound`:
 * "--batch-size 4096 needs about 9.2 GiB for 224x224x3 float32 inputs (4 batches in flight); at most 891 fits in 2 GiB".
 */
export function checkBatchFits(input: Pick<ModelInput, 'height' | 'width' | 'dtype'>, batchSize: number, flag = '--batch-size', bound = BATCH_MEMORY_BOUND): void {
  const needed = batchTensorBytes(input, batchSize);
  if (needed <= bound) return;
  const fits = largestBatchThatFits(input, bound);
  const what = `${input.height}x${input.width}x${CHANNELS} ${input.dtype} inputs (${BATCHES_IN_FLIGHT} batches in flight)`;
  throw new UsageError(
    fits > 0
      ? `${flag} ${batchSize} needs about ${formatBytes(needed)} for ${what}; at most ${fits} fits in ${formatBytes(bound)}: pass ${flag} ${fits} or less`
      : `${flag} ${batchSize} needs about ${formatBytes(needed)} for ${what}; not even 1 fits in ${formatBytes(bound)}: use a card with a smaller input.height and input.width`,
  );
}

/** 2 GiB, 9.2 GiB, 57 GiB, 768 MiB. */
function formatBytes(n: number): string {
  const gib = n / 2 ** 30;
  if (gib >= 10) return `${Math.round(gib)} GiB`;
  if (gib >= 1) return `${Number(gib.toFixed(1))} GiB`;
  return `${Math.round(n / 2 ** 20)} MiB`;
}
