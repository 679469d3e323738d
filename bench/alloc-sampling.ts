/**
 * Where a thread's garbage comes from: inspector heap sampling with collected objects kept, over a
 * measured stretch, printed as the top allocation sites in bytes per unit (packet, frame). On the
 * thread that calls it only (a worker's allocations need a session inside that worker).
 */
import { Session } from 'node:inspector/promises';

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Starts sampling; stop(units) prints bytes per unit, in total and for the top sites. */
export async function startAllocationSampling(): Promise<{
  stop(packets: number, log?: (line: string) => void): Promise<void>;
}> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return {
    async stop(packets: number, log = (line: string) => console.log(line)): Promise<void> {
      const { profile } = (await session.post('HeapProfiler.stopSampling')) as {
        profile: { head: SamplingNode };
      };
      session.disconnect();
      const sites = new Map<string, number>();
      let total = 0;
      const walk = (node: SamplingNode, parent: string): void => {
        const f = node.callFrame;
        const here = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
        // A native or builtin frame is named with its JavaScript caller.
        const site = f.url === '' ? `${here} <- ${parent}` : here;
        if (node.selfSize > 0) {
          sites.set(site, (sites.get(site) ?? 0) + node.selfSize);
          total += node.selfSize;
        }
        for (const child of node.children) walk(child, f.url === '' ? parent : here);
      };
      walk(profile.head, '');
      log(`allocated ${(total / packets).toFixed(0)} bytes per packet (sampled); top sites:`);
      for (const [site, bytes] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, 12))
        log(`  ${(bytes / packets).toFixed(1).padStart(7)} B/packet  ${site}`);
    },
  };
}
