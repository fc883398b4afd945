/**
 * The classifier head as `imgpipe train` fits it: weight samples so every class counts equally,
 * standardize each feature on the training rows (weighted mean and standard deviation), fit softmax
 * regression with L2 on the weights, then
 * fold the standardization into the weights so the head applies to raw features:
 *
 *   z = ((x − μ) / σ)·W + b  =  x·(W / σ) + (b − (μ / σ)·W)
 *
 * A constant feature (σ = 0) is left unscaled (σ := 1); its centred value is 0, so it gets no weight.
 */
import { fitSoftmaxRegression, type FitOptions, type FitResult, type LinearModel } from './softmaxRegression.js';

export interface LinearHeadOptions extends FitOptions {
  /** @defaultValue 'balanced' — weight nᵢ = N / (K · n_class) */
  classWeights?: 'balanced' | 'none';
}

export interface LinearHeadResult {
  /** The head on raw features (standardization folded in). */
  head: LinearModel;
  /** The fit on standardized features, as optimized. */
  standardized: LinearModel;
  mean: Float64Array;
  scale: Float64Array;
  /** Weight of one sample of each class. */
  classWeights: number[];
  optimizer: FitResult['optimizer'];
}

/**
 * Train on `n` rows of `d` features (row-major) with classes in [0, k).
 * @throws {Error} when a class has no rows.
 */
export function trainLinearHead(x: Float64Array, y: Int32Array, n: number, d: number, k: number, options: LinearHeadOptions = {}): LinearHeadResult {
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) counts[y[i]!]!++;
  const empty = counts.findIndex((c) => c === 0);
  if (empty >= 0) throw new Error(`Expected at least one training row for class ${empty} but received none`);

  const balanced = (options.classWeights ?? 'balanced') === 'balanced';
  const classWeights = counts.map((c) => (balanced ? n / (k * c) : 1));
  const sampleWeights = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) total += sampleWeights[i] = classWeights[y[i]!]!;

  // Mean and standard deviation under the same sample weights as the loss, so that the fit depends
  // on the classes, not on how many samples each happens to have.
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] = mean[j]! + sampleWeights[i]! * x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j] = mean[j]! / total;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const c = x[i * d + j]! - mean[j]!;
      scale[j] = scale[j]! + sampleWeights[i]! * c * c;
    }
  }
  for (let j = 0; j < d; j++) {
    const sd = Math.sqrt(scale[j]! / total);
    scale[j] = sd > 1e-12 * Math.max(1, Math.abs(mean[j]!)) ? sd : 1;
  }
  const xs = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xs[i * d + j] = (x[i * d + j]! - mean[j]!) / scale[j]!;

  const fit = fitSoftmaxRegression({ x: xs, y, n, d, k, sampleWeights }, options);
  const s = fit.model;
  const weights = new Float64Array(d * k);
  const bias = Float64Array.from(s.bias);
  for (let j = 0; j < d; j++) {
    for (let c = 0; c < k; c++) {
      const w = s.weights[j * k + c]! / scale[j]!;
      weights[j * k + c] = w;
      bias[c] = bias[c]! - mean[j]! * w;
    }
  }
  return { head: { weights, bias, d, k }, standardized: s, mean, scale, classWeights, optimizer: fit.optimizer };
}
