/**
 * Limited-memory BFGS for smooth unconstrained minimization, full batch, deterministic (no
 * randomness; the same input gives the same bits). The line search brackets a step that meets the
 * weak Wolfe conditions (Armijo c1 = 1e-4, curvature c2 = 0.9), so every accepted step keeps the
 * inverse-Hessian approximation positive definite; near the optimum, where f no longer changes
 * measurably, Hager and Zhang's approximate Wolfe conditions replace Armijo.
 *
 * Stops when the largest gradient component is at most `gradientTolerance` (`converged: true`), or
 * when no step decreases the objective any more (`reason: 'no_progress'`: the optimum is reached to
 * machine precision or the function is not smooth), or after `maxIterations`.
 */

/** Writes the gradient at `x` into `grad` and returns the value at `x`. */
export type ObjectiveWithGradient = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  /** @defaultValue 1000 */
  maxIterations?: number;
  /** Pairs of (step, gradient change) kept. @defaultValue 10 */
  memory?: number;
  /** Stop when max |∂f/∂xᵢ| ≤ this. @defaultValue 1e-6 */
  gradientTolerance?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  /** max |∂f/∂xᵢ| at `x`. */
  gradientNorm: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
  reason: 'gradient' | 'no_progress' | 'max_iterations';
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const maxAbs = (a: Float64Array): number => {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
};

/**
 * Minimize `f` from `x0` (not modified).
 * @throws {Error} when `f` returns a non-finite value at `x0`.
 */
export function minimizeLbfgs(f: ObjectiveWithGradient, x0: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const maxIterations = options.maxIterations ?? 1000;
  const m = options.memory ?? 10;
  const tol = options.gradientTolerance ?? 1e-6;
  const n = x0.length;
  let x: Float64Array = Float64Array.from(x0);
  let g: Float64Array = new Float64Array(n);
  let value = f(x, g);
  let evaluations = 1;
  if (!Number.isFinite(value)) throw new Error(`minimizeLbfgs: objective is ${value} at the starting point`);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(n);
  const alpha = new Array<number>(m).fill(0);
  let iterations = 0;
  let reason: LbfgsResult['reason'] = 'max_iterations';

  while (iterations < maxIterations) {
    if (maxAbs(g) <= tol) {
      reason = 'gradient';
      break;
    }
    // Two-loop recursion: d = -H g.
    for (let i = 0; i < n; i++) d[i] = -g[i]!;
    for (let j = S.length - 1; j >= 0; j--) {
      alpha[j] = rho[j]! * dot(S[j]!, d);
      const y = Y[j]!;
      for (let i = 0; i < n; i++) d[i] = d[i]! - alpha[j]! * y[i]!;
    }
    const gamma = S.length > 0 ? dot(S[S.length - 1]!, Y[Y.length - 1]!) / dot(Y[Y.length - 1]!, Y[Y.length - 1]!) : 1 / Math.max(Math.sqrt(dot(g, g)), 1e-300);
    for (let i = 0; i < n; i++) d[i] = d[i]! * gamma;
    for (let j = 0; j < S.length; j++) {
      const beta = rho[j]! * dot(Y[j]!, d);
      const s = S[j]!;
      for (let i = 0; i < n; i++) d[i] = d[i]! + (alpha[j]! - beta) * s[i]!;
    }
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      const scale = 1 / Math.max(Math.sqrt(dot(g, g)), 1e-300);
      for (let i = 0; i < n; i++) d[i] = -g[i]! * scale;
      slope = dot(g, d);
    }

    // Weak Wolfe line search by bracketing.
    const c1 = 1e-4;
    const c2 = 0.9;
    let lo = 0;
    let hi = Infinity;
    let t = 1;
    let accepted: { x: Float64Array; g: Float64Array; value: number } | null = null;
    let best: { x: Float64Array; g: Float64Array; value: number } | null = null;
    for (let tries = 0; tries < 60; tries++) {
      const xt = new Float64Array(n);
      for (let i = 0; i < n; i++) xt[i] = x[i]! + t * d[i]!;
      const gt = new Float64Array(n);
      const vt = f(xt, gt);
      evaluations++;
      if (Number.isFinite(vt) && vt < value && (!best || vt < best.value)) best = { x: xt, g: gt, value: vt };
      const dt = dot(gt, d);
      // Near the optimum, f changes by less than its rounding error; then the approximate Wolfe
      // condition of Hager and Zhang (no increase beyond rounding, slope not too positive) stands
      // in for Armijo, so the gradient can still be driven to the tolerance.
      const sufficient = vt <= value + c1 * t * slope || (vt <= value + 1e-14 * Math.abs(value) && dt <= (2 * c1 - 1) * slope);
      if (!Number.isFinite(vt) || !sufficient) hi = t;
      else if (dt < c2 * slope) lo = t;
      else {
        accepted = { x: xt, g: gt, value: vt };
        break;
      }
      t = hi < Infinity ? (lo + hi) / 2 : 2 * lo;
      if (hi - lo < 1e-16 * Math.max(1, lo)) break;
    }
    const next = accepted ?? best;
    if (!next) {
      reason = 'no_progress';
      break;
    }
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = next.x[i]! - x[i]!;
      y[i] = next.g[i]! - g[i]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
      if (S.length > m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
    }
    const previous = value;
    x = next.x;
    g = next.g;
    value = next.value;
    iterations++;
    if (!accepted && previous - value <= 1e-16 * Math.max(1, Math.abs(value))) {
      reason = maxAbs(g) <= tol ? 'gradient' : 'no_progress';
      break;
    }
  }
  const gradientNorm = maxAbs(g);
  if (reason === 'max_iterations' && gradientNorm <= tol) reason = 'gradient';
  return { x, value, gradientNorm, iterations, evaluations, converged: reason === 'gradient', reason };
}
