/**
 * Turning one image's raw model output into result-row fields. Pure functions, no ONNX here.
 */
import type { TopKEntry } from '../sink/resultRow.js';

export type Activation = 'softmax' | 'sigmoid' | 'none';

/** Apply the card's activation to one row of logits (a fresh array; the input is not changed). */
export function activate(logits: Float32Array, activation: Activation): Float32Array {
  const out = new Float32Array(logits.length);
  if (activation === 'none') {
    out.set(logits);
  } else if (activation === 'sigmoid') {
    for (let i = 0; i < logits.length; i++) out[i] = 1 / (1 + Math.exp(-logits[i]!));
  } else {
    let max = -Infinity;
    for (const v of logits) if (v > max) max = v;
    let sum = 0;
    for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
    for (let i = 0; i < logits.length; i++) out[i] = out[i]! / sum;
  }
  return out;
}

/** The k highest scores, best first; ties keep the lower class index first (stable, like torch.topk). */
export function topK(scores: Float32Array, labels: readonly string[], k: number): TopKEntry[] {
  const best: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (best.length === k && s <= scores[best[k - 1]!]!) continue;
    let at = best.length;
    while (at > 0 && scores[best[at - 1]!]! < s) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best.map((i) => ({ label: labels[i] ?? String(i), score: scores[i]! }));
}

/** The embedding as written: a copy, optionally scaled to unit L2 norm (a zero vector stays zero). */
export function normalizeEmbedding(values: Float32Array, normalize: 'none' | 'l2'): Float32Array {
  const out = Float32Array.from(values);
  if (normalize === 'l2') {
    let sum = 0;
    for (const v of out) sum += v * v;
    const norm = Math.sqrt(sum);
    if (norm > 0) for (let i = 0; i < out.length; i++) out[i] = out[i]! / norm;
  }
  return out;
}
