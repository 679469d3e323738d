/**
 * What the kernel dropped at one of this process's UDP sockets because its receive buffer was full
 * (Linux: the `drops` column of /proc/net/udp and udp6, for the socket bound to `port` whose inode
 * is one of this process's file descriptors). The node bench's server reads its SFU socket's, so
 * that packets a node sent but the server's socket never took are reported as such, not as packets
 * the node did not send. undefined where /proc is not there.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface UdpSocketDrops {
  /** Datagrams dropped since the socket was opened. */
  drops: number;
  /** Bytes waiting in its receive queue now. */
  rxQueueBytes: number;
}

function ownSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed since the listing
    }
  }
  return inodes;
}

/** port -> the socket's inode, found once (listing thousands of descriptors takes milliseconds). */
const inodeOf = new Map<number, string>();

export function udpSocketDrops(port: number): UdpSocketDrops | undefined {
  try {
    const known = inodeOf.get(port);
    const inodes = known === undefined ? ownSocketInodes() : new Set([known]);
    for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
      let text: string;
      try {
        text = readFileSync(table, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        // sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops
        const f = line.trim().split(/\s+/);
        if (f.length < 13 || !inodes.has(f[9]!)) continue;
        if (Number.parseInt(f[1]!.split(':')[1] ?? '', 16) !== port) continue;
        inodeOf.set(port, f[9]!);
        return {
          drops: Number(f[12]),
          rxQueueBytes: Number.parseInt(f[4]!.split(':')[1] ?? '0', 16),
        };
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}
