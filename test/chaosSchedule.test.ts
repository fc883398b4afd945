/**
 * The chaos run's random choices (scripts/chaos/chaosSchedule.ts) are a pure function of the seed:
 * the same seed gives the same waits and victims, another seed others, and the waits do not shift
 * when a check kills nobody. Nothing is run: the chaos itself is test/queue.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { chaosSchedule, chaosSeed, SEED_MAX, seededRandom } from '../scripts/chaos/chaosSchedule.js';

/** The first `n` choices of a schedule, a victim drawn among 3 busy workers after every other wait. */
const choices = (seed: number, n = 40) => {
  const s = chaosSchedule(seed, [250, 1000]);
  return Array.from({ length: n }, (_, i) => ({ wait: s.nextWaitMs(), victim: i % 2 === 0 ? s.pickVictim(3) : null }));
};

describe('chaos schedule', () => {
  it('the same seed gives the same choices; another seed, other ones', () => {
    expect(choices(1234)).toEqual(choices(1234));
    expect(choices(1234)).not.toEqual(choices(1235));
    expect(choices(0)).toEqual(choices(0));
    expect(choices(SEED_MAX)).not.toEqual(choices(0));
  });

  it('waits stay in range, victims are indexes of the busy workers, and both cover their range', () => {
    const s = chaosSchedule(7, [250, 1000]);
    const waits = Array.from({ length: 2000 }, () => s.nextWaitMs());
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(250);
    expect(Math.max(...waits)).toBeLessThanOrEqual(1000);
    expect(waits.filter((w) => w < 400).length).toBeGreaterThan(200); // about 400 expected of 2000
    expect(waits.filter((w) => w > 850).length).toBeGreaterThan(200);
    const victims = new Set(Array.from({ length: 200 }, () => s.pickVictim(3)));
    expect(victims).toEqual(new Set([0, 1, 2]));
    expect(s.pickVictim(1)).toBe(0);
  });

  it('the waits do not depend on how many victims were drawn between them', () => {
    const a = chaosSchedule(99, [500, 2000]);
    const b = chaosSchedule(99, [500, 2000]);
    const waitsA = Array.from({ length: 20 }, () => a.nextWaitMs());
    const waitsB = Array.from({ length: 20 }, (_, i) => {
      for (let k = 0; k < i % 3; k++) b.pickVictim(4);
      return b.nextWaitMs();
    });
    expect(waitsB).toEqual(waitsA);
  });

  it('near seeds and the two streams of a seed start unrelated', () => {
    const firsts = Array.from({ length: 10 }, (_, seed) => seededRandom(seed)());
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(0.3); // plain Park–Miller would give ≈ 7.8e-6 apart
    expect(seededRandom(5, 0)()).not.toBe(seededRandom(5, 1)());
  });

  it('a seed from a flag or the environment: given, fresh when absent, refused when not an integer in range', () => {
    expect(chaosSeed('1234', 'IMGPIPE_CHAOS_SEED')).toBe(1234);
    expect(chaosSeed(' 0 ', 'IMGPIPE_CHAOS_SEED')).toBe(0);
    for (const raw of [undefined, '']) {
      const fresh = chaosSeed(raw, 'IMGPIPE_CHAOS_SEED');
      expect(Number.isInteger(fresh) && fresh >= 0 && fresh <= SEED_MAX).toBe(true);
    }
    expect(() => chaosSeed('12ab', 'IMGPIPE_CHAOS_SEED')).toThrow(`Expected integer between 0 and ${SEED_MAX} for IMGPIPE_CHAOS_SEED but received "12ab"`);
    expect(() => chaosSeed('-1', '--seed')).toThrow(`Expected integer between 0 and ${SEED_MAX} for --seed but received "-1"`);
    expect(() => chaosSeed(String(SEED_MAX + 1), '--seed')).toThrow('for --seed');
  });
});
