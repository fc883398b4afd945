/**
 * The chaos run's random choices as a pure function of one seed, so a failing run can be replayed:
 * `npm run chaos -- --seed N` (scripts/chaosQueue.ts) or `IMGPIPE_CHAOS_SEED=N` (test/queue.test.ts).
 * Two streams, so that a check that kills nobody does not shift the rest: the waits between fault
 * checks (the n-th wait is the same in every run of a seed) and which busy worker is killed.
 * What the processes do meanwhile is not seeded: a replay makes the same choices at the same times,
 * and the machine decides which partitions they hit.
 */
import { randomInt } from 'node:crypto';

/** Seeds are integers 0 … SEED_MAX. */
export const SEED_MAX = 2 ** 31 - 2;

/**
 * Park–Miller ("minimal standard") generator, values in (0, 1); its state is the seed and the stream
 * number hashed together (murmur3's finalizer), so near seeds and the streams of one seed are unrelated.
 */
export function seededRandom(seed: number, stream = 0): () => number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  let state = (h % 2147483646) + 1;
  return () => (state = (state * 16807) % 2147483647) / 2147483647;
}

export interface ChaosSchedule {
  /** Milliseconds until the next fault check, uniform in [lo, hi]. */
  nextWaitMs(): number;
  /** Which of `n` busy workers to kill: an index in [0, n). */
  pickVictim(n: number): number;
}

export function chaosSchedule(seed: number, [lo, hi]: [number, number]): ChaosSchedule {
  const waits = seededRandom(seed, 0);
  const victims = seededRandom(seed, 1);
  return {
    nextWaitMs: () => lo + waits() * (hi - lo),
    pickVictim: (n) => Math.min(n - 1, Math.floor(victims() * n)),
  };
}

/**
 * The seed given as text (a flag or an environment variable, named by `what` in the error), or a
 * fresh one when `raw` is absent or empty.
 * @throws {Error} `raw` is not an integer 0 … SEED_MAX.
 */
export function chaosSeed(raw: string | undefined, what: string): number {
  if (raw === undefined || raw.trim() === '') return randomInt(1_000_000);
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed > SEED_MAX) throw new Error(`Expected integer between 0 and ${SEED_MAX} for ${what} but received ${JSON.stringify(raw)}`);
  return seed;
}
