/**
 * The held-out split: deterministic, stratified, stable. Within each class, items are ordered by
 * sha256(seed + ":" + key) and the first round(fraction × n) are held out (at least one, and at
 * least one left to train on). The same keys, classes and seed always give the same split, whatever
 * the order the items arrive in; another seed gives another split.
 */
import { createHash } from 'node:crypto';

export interface SplitItem {
  key: string;
  label: number;
}

/** Number held out of a class of `n` items. @throws {Error} when n < 2. */
export function holdoutCount(n: number, fraction: number): number {
  if (n < 2) throw new Error(`Expected at least 2 items in a class to split but received ${n}`);
  return Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
}

/** `true` at the indexes of the held-out items. @throws {Error} when a class has fewer than 2 items or fraction is outside (0, 1). */
export function holdoutSplit(items: readonly SplitItem[], fraction: number, seed: number): boolean[] {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`Expected a number between 0 and 1 (exclusive) for fraction but received ${fraction}`);
  const byClass = new Map<number, { index: number; hash: string }[]>();
  items.forEach((item, index) => {
    const hash = createHash('sha256').update(`${seed}:${item.key}`).digest('hex');
    const list = byClass.get(item.label) ?? [];
    list.push({ index, hash });
    byClass.set(item.label, list);
  });
  const held = new Array<boolean>(items.length).fill(false);
  for (const list of byClass.values()) {
    list.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : a.index - b.index));
    const h = holdoutCount(list.length, fraction);
    for (let i = 0; i < h; i++) held[list[i]!.index] = true;
  }
  return held;
}
