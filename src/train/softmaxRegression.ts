/**
 * Multinomial logistic (softmax) regression, fitted full batch with L-BFGS:
 *
 *   minimize over W (D×K), b (K):
 *     Σᵢ sᵢ · (log Σₖ exp(zᵢₖ) − zᵢ,yᵢ) / Σᵢ sᵢ  +  (λ/2)·‖W‖²,    zᵢ = xᵢ·W + b
 *
 * with per-sample weights sᵢ (class-balanced weights make each class count equally) and no penalty
 * on the bias. The objective is strictly convex in W; the bias is fixed up to a common shift, which
 * softmax ignores, and is returned centred (Σₖ bₖ = 0) so the solution is unique.
 * Deterministic: zero start, no randomness.
 */
import { minimizeLbfgs, type LbfgsResult } from './minimizeLbfgs.js';

/** A dataset: N rows of D features, row-major, and a class index in [0, K) per row. */
export interface Dataset {
  x: Float64Array;
  y: Int32Array;
  n: number;
  d: number;
  k: number;
  /** Per-row weights; @defaultValue all 1 */
  sampleWeights?: Float64Array;
}

/** A linear classifier: logits = x·W + b. */
export interface LinearModel {
  /** D × K, row-major: `weights[j * K + k]`. */
  weights: Float64Array;
  bias: Float64Array;
  d: number;
  k: number;
}

export interface FitOptions {
  /** λ, the L2 penalty on W. @defaultValue 1e-2 */
  l2?: number;
  /** @defaultValue 1e-6 (largest gradient component) */
  gradientTolerance?: number;
  /** @defaultValue 2000 */
  maxIterations?: number;
}

export interface FitResult {
  model: LinearModel;
  optimizer: Pick<LbfgsResult, 'value' | 'gradientNorm' | 'iterations' | 'evaluations' | 'converged' | 'reason'>;
}

/**
 * The objective above as a function of θ = [W (row-major D×K), b (K)], writing its gradient.
 * Exposed for tests (gradient checks, optimality at the solution).
 */
export function softmaxObjective(data: Dataset, l2: number): (theta: Float64Array, grad: Float64Array) => number {
  const { x, y, n, d, k } = data;
  const weights = data.sampleWeights ?? new Float64Array(n).fill(1);
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i]!;
  const z = new Float64Array(k);
  return (theta, grad) => {
    grad.fill(0);
    let loss = 0;
    const bOff = d * k;
    for (let i = 0; i < n; i++) {
      const row = i * d;
      for (let c = 0; c < k; c++) z[c] = theta[bOff + c]!;
      for (let j = 0; j < d; j++) {
        const xv = x[row + j]!;
        if (xv === 0) continue;
        const w = j * k;
        for (let c = 0; c < k; c++) z[c] = z[c]! + xv * theta[w + c]!;
      }
      let max = -Infinity;
      for (let c = 0; c < k; c++) if (z[c]! > max) max = z[c]!;
      let sum = 0;
      for (let c = 0; c < k; c++) sum += Math.exp(z[c]! - max);
      const logSum = max + Math.log(sum);
      const s = weights[i]! / total;
      loss += s * (logSum - z[y[i]!]!);
      // residual r_c = p_c − [c = y], scaled by the sample weight
      for (let c = 0; c < k; c++) z[c] = s * (Math.exp(z[c]! - logSum) - (c === y[i] ? 1 : 0));
      for (let c = 0; c < k; c++) grad[bOff + c] = grad[bOff + c]! + z[c]!;
      for (let j = 0; j < d; j++) {
        const xv = x[row + j]!;
        if (xv === 0) continue;
        const w = j * k;
        for (let c = 0; c < k; c++) grad[w + c] = grad[w + c]! + xv * z[c]!;
      }
    }
    let penalty = 0;
    for (let p = 0; p < bOff; p++) {
      penalty += theta[p]! * theta[p]!;
      grad[p] = grad[p]! + l2 * theta[p]!;
    }
    return loss + (l2 / 2) * penalty;
  };
}

/**
 * Fit W and b to `data`.
 * @throws {Error} when a label is outside [0, K) or λ is negative.
 */
export function fitSoftmaxRegression(data: Dataset, options: FitOptions = {}): FitResult {
  const l2 = options.l2 ?? 1e-2;
  if (!(l2 >= 0)) throw new Error(`Expected a non-negative number for l2 but received ${l2}`);
  for (let i = 0; i < data.n; i++) {
    const c = data.y[i]!;
    if (!(c >= 0 && c < data.k)) throw new Error(`Expected class index between 0 and ${data.k - 1} for row ${i} but received ${c}`);
  }
  const result = minimizeLbfgs(softmaxObjective(data, l2), new Float64Array(data.d * data.k + data.k), {
    gradientTolerance: options.gradientTolerance ?? 1e-6,
    maxIterations: options.maxIterations ?? 2000,
  });
  const weights = result.x.slice(0, data.d * data.k);
  const bias = result.x.slice(data.d * data.k);
  const mean = bias.reduce((a, b) => a + b, 0) / data.k;
  for (let c = 0; c < data.k; c++) bias[c] = bias[c]! - mean;
  const { value, gradientNorm, iterations, evaluations, converged, reason } = result;
  return { model: { weights, bias, d: data.d, k: data.k }, optimizer: { value, gradientNorm, iterations, evaluations, converged, reason } };
}

/** Logits of one feature row (`x[offset … offset + D)`). */
export function linearLogits(model: LinearModel, x: ArrayLike<number>, offset = 0): Float64Array {
  const { d, k, weights, bias } = model;
  const z = Float64Array.from(bias);
  for (let j = 0; j < d; j++) {
    const xv = x[offset + j]!;
    for (let c = 0; c < k; c++) z[c] = z[c]! + xv * weights[j * k + c]!;
  }
  return z;
}

/** Softmax of logits, computed stably. */
export function softmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let c = 0; c < z.length; c++) max = Math.max(max, z[c]!);
  const p = new Float64Array(z.length);
  let sum = 0;
  for (let c = 0; c < z.length; c++) sum += p[c] = Math.exp(z[c]! - max);
  for (let c = 0; c < z.length; c++) p[c] = p[c]! / sum;
  return p;
}
