/**
 * Classification metrics from true and predicted class indexes: accuracy, per-class precision and
 * recall (null where undefined: no predictions, or no true items, of that class), and the confusion
 * matrix with rows = true class, columns = predicted class.
 */
export interface ClassifierMetrics {
  n: number;
  accuracy: number;
  /** Mean of the per-class recalls (classes with support). */
  balanced_accuracy: number;
  labels: string[];
  /** confusion[true][predicted] */
  confusion: number[][];
  per_class: Record<string, { precision: number | null; recall: number | null; support: number }>;
}

/** @throws {Error} when the arrays differ in length or hold an index outside the labels. */
export function evaluateClassifier(truth: ArrayLike<number>, predicted: ArrayLike<number>, labels: readonly string[]): ClassifierMetrics {
  if (truth.length !== predicted.length) throw new Error(`Expected as many predictions as true labels but received ${predicted.length} and ${truth.length}`);
  const k = labels.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const p = predicted[i]!;
    if (!(t >= 0 && t < k && p >= 0 && p < k)) throw new Error(`Expected class indexes between 0 and ${k - 1} but received ${t} and ${p} at ${i}`);
    confusion[t]![p]!++;
    if (t === p) correct++;
  }
  const per_class: ClassifierMetrics['per_class'] = {};
  const recalls: number[] = [];
  labels.forEach((label, c) => {
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((a, row) => a + row[c]!, 0);
    const recall = support > 0 ? confusion[c]![c]! / support : null;
    if (recall !== null) recalls.push(recall);
    per_class[label] = { precision: predictedAs > 0 ? confusion[c]![c]! / predictedAs : null, recall, support };
  });
  const n = truth.length;
  return {
    n,
    accuracy: n > 0 ? correct / n : 0,
    balanced_accuracy: recalls.length ? recalls.reduce((a, b) => a + b, 0) / recalls.length : 0,
    labels: [...labels],
    confusion,
    per_class,
  };
}
