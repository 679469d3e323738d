/**
 * `npm run soak:dave [-- --seed 1,2,3 --epochs 120 --members 6 --verbose --trace]`: the DAVE churn soak
 * (dave-churn.ts) for each seed in turn, its figures printed; exits 1 when any seed misses a
 * criterion. `--trace` prints what happened around the first over-budget op 22 windows.
 */
import { parseArgs } from 'node:util';
import { formatSoakReport, runDaveChurnSoak, soakFailures } from './dave-churn.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1,2,3' },
    epochs: { type: 'string', default: '120' },
    members: { type: 'string', default: '6' },
    verbose: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
  },
});

function integer(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer >= ${min}, got '${text}'\n`);
    process.exit(2);
  }
  return n;
}

const seeds = values.seed.split(',').map((s) => integer('seed', s.trim(), 0));
const epochs = integer('epochs', values.epochs, 1);
const members = integer('members', values.members, 2);

let failed = 0;
for (const seed of seeds) {
  const report = await runDaveChurnSoak({
    seed,
    epochs,
    members,
    trace: values.trace,
    ...(values.verbose ? { log: (line: string) => process.stdout.write(`  [${seed}] ${line}\n`) } : {}),
  });
  process.stdout.write(`${formatSoakReport(report)}\n`);
  for (const t of report.transitionsOverBudget) {
    if (t.trace === undefined) continue;
    process.stdout.write(
      `  window ${t.transition} ${t.kinds} ${t.sender} -> ${t.receiver}: lost ${t.lost}\n`,
    );
    for (const line of t.trace) process.stdout.write(`    ${line}\n`);
  }
  if (soakFailures(report).length > 0) failed++;
}
process.stdout.write(`${seeds.length - failed} of ${seeds.length} seeds pass\n`);
process.exit(failed === 0 ? 0 : 1);
