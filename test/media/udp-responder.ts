/** A tiny voice server for channel tests on 127.0.0.1: answers IP discovery, records the rest. */
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { buildIpDiscoveryResponse, parseIpDiscoveryRequest } from '../../src/media/ip-discovery.js';
import { createMediaEngine } from '../../src/media/index.js';
import type { CreateMediaEngineOptions, MediaChannel } from '../../src/media/index.js';
import type { Cleanup } from '../support/cleanup.js';
import type { EncryptionMode } from '../../src/protocol/constants.js';

/** A tiny voice server: answers IP discovery, records everything else. */
export class Responder {
  readonly socket: Socket;
  readonly datagrams: Buffer[] = [];
  discoveryRequests = 0;
  answerDiscovery = true;
  peer: RemoteInfo | undefined;

  private constructor() {
    this.socket = createSocket('udp4');
    this.socket.on('message', (msg, rinfo) => {
      this.peer = rinfo;
      const req = parseIpDiscoveryRequest(msg);
      if (req) {
        this.discoveryRequests++;
        if (this.answerDiscovery)
          this.socket.send(
            buildIpDiscoveryResponse(req.ssrc, rinfo.address, rinfo.port),
            rinfo.port,
            rinfo.address,
          );
        return;
      }
      this.datagrams.push(msg);
    });
  }

  static async start(): Promise<Responder> {
    const r = new Responder();
    await new Promise<void>((resolve) => r.socket.bind(0, '127.0.0.1', resolve));
    return r;
  }

  get port(): number {
    return this.socket.address().port;
  }

  rtp(): Buffer[] {
    return this.datagrams.filter((d) => d.length > 8);
  }

  keepalives(): Buffer[] {
    return this.datagrams.filter((d) => d.length === 8);
  }

  sendToPeer(data: Uint8Array): void {
    const peer = this.peer!;
    this.socket.send(data, peer.port, peer.address);
  }

  close(): void {
    this.socket.close();
  }
}

export { until as waitFor } from '../support/wait.js';

/**
 * A worker engine with two channels (ssrc 1 and 2) sending to one new responder, both with the
 * transport `mode` and `key`; `cleanups` closes the responder and the engine after the test.
 */
export async function twoChannels(
  cleanups: Cleanup,
  options: CreateMediaEngineOptions,
  mode: EncryptionMode,
  key: Uint8Array,
): Promise<{ r: Responder; a: MediaChannel; b: MediaChannel }> {
  const r = await Responder.start();
  cleanups.push(() => r.close());
  const engine = createMediaEngine(options);
  cleanups.push(() => engine.close());
  const open = (ssrc: number): Promise<MediaChannel> =>
    engine.openChannel({ ssrc, serverHost: '127.0.0.1', serverPort: r.port });
  const [a, b] = await Promise.all([open(1), open(2)]);
  a.setTransport(mode, key);
  b.setTransport(mode, key);
  return { r, a, b };
}
