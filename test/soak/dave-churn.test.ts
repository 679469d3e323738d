/**
 * The short run of the DAVE churn soak (issue 11; the long one is `npm run soak:dave`): 3 voxcord +
 * 3 davey members, seeded joins and leaves including the leftmost members and two at once, every
 * member sending numbered frames. It asserts the criteria themselves (see dave-churn.ts).
 */
import { describe, expect, it } from 'vitest';
import { formatSoakReport, runDaveChurnSoak, soakFailures } from './dave-churn.js';

describe('DAVE churn soak (short)', () => {
  it('3 voxcord + 3 davey members agree at every epoch and lose at most one frame per sender at each op 22', async () => {
    const report = await runDaveChurnSoak({ seed: 1, epochs: 12, members: 6 });
    console.log(formatSoakReport(report));
    // The run covered what it is meant to (so the criteria below cannot pass vacuously).
    expect(report.aborted).toBeUndefined();
    expect(report.epochs).toBeGreaterThanOrEqual(12);
    expect(report.epochsCompared).toBeGreaterThanOrEqual(12);
    expect(report.leftmostLeaves).toBeGreaterThan(0);
    expect(report.doubleLeaves).toBeGreaterThan(0);
    expect(report.phases.steady.received).toBeGreaterThan(1_000);
    expect(report.transitionWindows).toBeGreaterThan(50);
    // The criteria.
    expect(soakFailures(report)).toEqual([]);
  }, 120_000);
});
