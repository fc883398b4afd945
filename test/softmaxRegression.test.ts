/**
 * The optimizer and the classifier head of `imgpipe train`, checked against solutions found another
 * way: a closed-form 1-D optimum, a Newton-method reference, finite-difference gradients.
 */
import { describe, expect, it } from 'vitest';
import { evaluateClassifier } from '../src/train/evaluateClassifier.js';
import { holdoutCount, holdoutSplit } from '../src/train/holdoutSplit.js';
import { minimizeLbfgs } from '../src/train/minimizeLbfgs.js';
import { fitSoftmaxRegression, linearLogits, softmax, softmaxObjective, type Dataset } from '../src/train/softmaxRegression.js';
import { trainLinearHead } from '../src/train/trainLinearHead.js';

/** mulberry32: a seeded PRNG for test data. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** K Gaussian-ish blobs in D dimensions, overlapping enough that the optimum is finite without L2. */
function blobs(n: number, d: number, k: number, seed: number): Dataset {
  const r = rng(seed);
  const centers = Array.from({ length: k }, () => Array.from({ length: d }, () => 2 * r() - 1));
  const x = new Float64Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % k;
    y[i] = c;
    for (let j = 0; j < d; j++) x[i * d + j] = centers[c]![j]! + (r() + r() + r() - 1.5);
  }
  return { x, y, n, d, k };
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('minimizeLbfgs', () => {
  it('finds the minimum of a convex quadratic (A x = b)', () => {
    // f(x) = ½ xᵀAx − bᵀx with A = [[4,1,0],[1,3,1],[0,1,2]], b = [1,2,3]; the minimum solves Ax = b
    const A = [[4, 1, 0], [1, 3, 1], [0, 1, 2]];
    const b = [1, 2, 3];
    const r = minimizeLbfgs((x, g) => {
      let f = 0;
      for (let i = 0; i < 3; i++) {
        let ax = 0;
        for (let j = 0; j < 3; j++) ax += A[i]![j]! * x[j]!;
        g[i] = ax - b[i]!;
        f += 0.5 * x[i]! * ax - b[i]! * x[i]!;
      }
      return f;
    }, new Float64Array(3), { gradientTolerance: 1e-12 });
    // by elimination: x = [2/9, 1/9, 13/9]
    expect(r.converged).toBe(true);
    expect(r.x[0]).toBeCloseTo(2 / 9, 10);
    expect(r.x[1]).toBeCloseTo(1 / 9, 10);
    expect(r.x[2]).toBeCloseTo(13 / 9, 10);
  });

  it('finds (1, 1) on the Rosenbrock function', () => {
    const r = minimizeLbfgs((x, g) => {
      const [a, b] = [x[0]!, x[1]!];
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    }, Float64Array.from([-1.2, 1]), { gradientTolerance: 1e-10 });
    expect(r.converged).toBe(true);
    expect(r.x[0]).toBeCloseTo(1, 7);
    expect(r.x[1]).toBeCloseTo(1, 7);
  });

  it('refuses a start where the objective is not finite', () => {
    expect(() => minimizeLbfgs(() => Number.NaN, new Float64Array(1))).toThrow('minimizeLbfgs: objective is NaN at the starting point');
  });
});

describe('softmax regression', () => {
  it('the analytic gradient matches central finite differences', () => {
    const data = { ...blobs(30, 4, 3, 7), sampleWeights: Float64Array.from({ length: 30 }, (_, i) => 0.5 + (i % 4)) };
    const f = softmaxObjective(data, 0.3);
    const r = rng(3);
    const theta = Float64Array.from({ length: 4 * 3 + 3 }, () => 2 * r() - 1);
    const g = new Float64Array(theta.length);
    f(theta, g);
    const scratch = new Float64Array(theta.length);
    for (let p = 0; p < theta.length; p++) {
      const h = 1e-6;
      const plus = Float64Array.from(theta);
      plus[p] = plus[p]! + h;
      const minus = Float64Array.from(theta);
      minus[p] = minus[p]! - h;
      const numeric = (f(plus, scratch) - f(minus, scratch)) / (2 * h);
      expect(Math.abs(numeric - g[p]!)).toBeLessThan(1e-7 * Math.max(1, Math.abs(numeric)));
    }
  });

  it('matches the closed-form optimum of a symmetric 1-D problem', () => {
    // x = +1 → class 0, x = −1 → class 1. By symmetry W = [a, −a], b = [0, 0], and the objective is
    // log(1 + e^(−2a)) + λa², whose minimum solves λa = 1 / (1 + e^(2a)). Solve that by bisection.
    for (const l2 of [1, 0.1, 0.01]) {
      let lo = 0;
      let hi = 1 / l2;
      for (let i = 0; i < 200; i++) {
        const a = (lo + hi) / 2;
        if (l2 * a - 1 / (1 + Math.exp(2 * a)) > 0) hi = a;
        else lo = a;
      }
      const a = (lo + hi) / 2;
      const fit = fitSoftmaxRegression({ x: Float64Array.from([1, -1]), y: Int32Array.from([0, 1]), n: 2, d: 1, k: 2 }, { l2, gradientTolerance: 1e-12 });
      expect(fit.optimizer.converged).toBe(true);
      expect(Math.abs(fit.model.weights[0]! - a)).toBeLessThan(1e-9);
      expect(Math.abs(fit.model.weights[1]! + a)).toBeLessThan(1e-9);
      expect(maxAbs(fit.model.bias)).toBeLessThan(1e-9);
    }
  });

  it('agrees with a Newton-method reference on a 3-class problem, and its gradient there is ~0', () => {
    const data = blobs(60, 4, 3, 11);
    const l2 = 0.05;
    const fit = fitSoftmaxRegression(data, { l2, gradientTolerance: 1e-10 });
    expect(fit.optimizer.converged).toBe(true);
    expect(fit.optimizer.gradientNorm).toBeLessThan(1e-10);

    // Reference: Newton's method with a finite-difference Hessian of the analytic gradient, on the
    // objective plus ½(Σb)² (which removes the softmax shift freedom and picks centred biases).
    const f = softmaxObjective(data, l2);
    const P = 4 * 3 + 3;
    const grad = (t: Float64Array) => {
      const g = new Float64Array(P);
      f(t, g);
      let sb = 0;
      for (let c = 0; c < 3; c++) sb += t[12 + c]!;
      for (let c = 0; c < 3; c++) g[12 + c] = g[12 + c]! + sb;
      return g;
    };
    let theta = new Float64Array(P);
    for (let iter = 0; iter < 30; iter++) {
      const g = grad(theta);
      const H = Array.from({ length: P }, (_, p) => {
        const h = 1e-5;
        const plus = Float64Array.from(theta);
        plus[p] = plus[p]! + h;
        const minus = Float64Array.from(theta);
        minus[p] = minus[p]! - h;
        const gp = grad(plus);
        const gm = grad(minus);
        return Array.from({ length: P }, (_, q) => (gp[q]! - gm[q]!) / (2 * h));
      });
      // Solve H·step = g by Gaussian elimination with partial pivoting.
      const M = H.map((row, i) => [...row, g[i]!]);
      for (let c = 0; c < P; c++) {
        let piv = c;
        for (let r = c + 1; r < P; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[piv]![c]!)) piv = r;
        [M[c], M[piv]] = [M[piv]!, M[c]!];
        for (let r = 0; r < P; r++) {
          if (r === c) continue;
          const m = M[r]![c]! / M[c]![c]!;
          for (let q = c; q <= P; q++) M[r]![q] = M[r]![q]! - m * M[c]![q]!;
        }
      }
      theta = Float64Array.from(theta, (v, i) => v - M[i]![P]! / M[i]![i]!);
    }
    const reference = theta;
    expect(maxAbs(grad(reference))).toBeLessThan(1e-9);
    for (let p = 0; p < 12; p++) expect(Math.abs(fit.model.weights[p]! - reference[p]!)).toBeLessThan(1e-7);
    for (let c = 0; c < 3; c++) expect(Math.abs(fit.model.bias[c]! - reference[12 + c]!)).toBeLessThan(1e-7);
  });

  it('is deterministic: the same data gives the same bits', () => {
    const data = blobs(50, 6, 3, 5);
    const a = fitSoftmaxRegression(data);
    const b = fitSoftmaxRegression(data);
    expect(Array.from(a.model.weights)).toEqual(Array.from(b.model.weights));
    expect(Array.from(a.model.bias)).toEqual(Array.from(b.model.bias));
  });

  it('rejects labels outside [0, K)', () => {
    expect(() => fitSoftmaxRegression({ x: Float64Array.from([1, 2]), y: Int32Array.from([0, 2]), n: 2, d: 1, k: 2 })).toThrow('Expected class index between 0 and 1 for row 1 but received 2');
  });
});

describe('trainLinearHead', () => {
  it('folds the standardization into the weights: raw-feature logits equal standardized ones', () => {
    const data = blobs(40, 5, 2, 9);
    for (let i = 0; i < data.n; i++) {
      data.x[i * 5] = 100 + 50 * data.x[i * 5]!; // a large offset and scale
      data.x[i * 5 + 4] = 3; // a constant feature
    }
    const t = trainLinearHead(data.x, data.y, data.n, data.d, data.k);
    expect(t.optimizer.converged).toBe(true);
    expect(t.scale[4]).toBe(1);
    for (let i = 0; i < data.n; i++) {
      const raw = linearLogits(t.head, data.x, i * 5);
      const std = linearLogits(t.standardized, Array.from({ length: 5 }, (_, j) => (data.x[i * 5 + j]! - t.mean[j]!) / t.scale[j]!));
      for (let c = 0; c < 2; c++) expect(Math.abs(raw[c]! - std[c]!)).toBeLessThan(1e-9);
    }
  });

  it('class-balanced: repeating every sample of one class three times changes nothing', () => {
    const data = blobs(30, 3, 2, 13);
    const rows = Array.from({ length: data.n }, (_, i) => i).flatMap((i) => (data.y[i] === 0 ? [i, i, i] : [i]));
    const x = new Float64Array(rows.length * 3);
    rows.forEach((r, i) => x.set(data.x.subarray(r * 3, r * 3 + 3), i * 3));
    const y = Int32Array.from(rows, (r) => data.y[r]!);
    const a = trainLinearHead(data.x, data.y, data.n, 3, 2, { gradientTolerance: 1e-10 });
    const b = trainLinearHead(x, y, rows.length, 3, 2, { gradientTolerance: 1e-10 });
    expect(b.classWeights[0]! * 3 * data.n).toBeCloseTo(a.classWeights[0]! * rows.length, 10);
    for (let p = 0; p < 6; p++) expect(Math.abs(a.standardized.weights[p]! - b.standardized.weights[p]!)).toBeLessThan(1e-7);
    const unbalanced = trainLinearHead(x, y, rows.length, 3, 2, { classWeights: 'none' });
    expect(Math.abs(unbalanced.standardized.bias[0]! - a.standardized.bias[0]!)).toBeGreaterThan(1e-3);
  });

  it('refuses a class without training rows', () => {
    expect(() => trainLinearHead(Float64Array.from([1, 2]), Int32Array.from([0, 0]), 2, 1, 2)).toThrow('Expected at least one training row for class 1 but received none');
  });

  it('softmax is stable for large logits', () => {
    const p = softmax([1000, 1000 + Math.log(3)]);
    expect(p[0]).toBeCloseTo(0.25, 12);
    expect(p[1]).toBeCloseTo(0.75, 12);
  });
});

describe('holdoutSplit', () => {
  const items = Array.from({ length: 50 }, (_, i) => ({ key: `Image_${i}.jpg`, label: i < 30 ? 0 : 1 }));

  it('is stratified: round(fraction × n) per class, at least one each way', () => {
    const held = holdoutSplit(items, 0.2, 1);
    expect(held.filter((h, i) => h && items[i]!.label === 0)).toHaveLength(6);
    expect(held.filter((h, i) => h && items[i]!.label === 1)).toHaveLength(4);
    expect(holdoutCount(2, 0.01)).toBe(1);
    expect(holdoutCount(2, 0.99)).toBe(1);
    expect(() => holdoutCount(1, 0.5)).toThrow('Expected at least 2 items in a class to split but received 1');
    expect(() => holdoutSplit(items, 1, 1)).toThrow('Expected a number between 0 and 1 (exclusive) for fraction but received 1');
  });

  it('depends on keys and seed only, not on order', () => {
    const a = holdoutSplit(items, 0.3, 42);
    const reversed = [...items].reverse();
    const b = holdoutSplit(reversed, 0.3, 42).reverse();
    expect(b).toEqual(a);
    expect(holdoutSplit(items, 0.3, 43)).not.toEqual(a);
  });
});

describe('evaluateClassifier', () => {
  it('computes accuracy, precision, recall and the confusion matrix', () => {
    const m = evaluateClassifier([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 0, 1], ['a', 'b', 'c']);
    expect(m.confusion).toEqual([[2, 1, 0], [1, 1, 0], [0, 1, 0]]);
    expect(m.accuracy).toBeCloseTo(3 / 6, 12);
    expect(m.per_class).toEqual({
      a: { precision: 2 / 3, recall: 2 / 3, support: 3 },
      b: { precision: 1 / 3, recall: 1 / 2, support: 2 },
      c: { precision: null, recall: 0, support: 1 },
    });
    expect(m.balanced_accuracy).toBeCloseTo((2 / 3 + 1 / 2 + 0) / 3, 12);
  });
});
