/** Deterministic randomness for the demo set: a PRNG (mulberry32) seeded by a string's sha1. */
import { createHash } from 'node:crypto';

export type Rng = () => number; // uniform in [0, 1)

export function rngFor(seed: string): Rng {
  let a = createHash('sha1').update(seed).digest().readUInt32BE(0);
  return () => {
    // mulberry32
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
export const between = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng();
export const intBetween = (rng: Rng, lo: number, hi: number): number => Math.floor(between(rng, lo, hi + 1));
