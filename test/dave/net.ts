/**
 * DaveClients and the local server's DaveDeliveryService in one process, without sockets:
 * messages are delivered in FIFO order, op 22 can be held back (key timing, dave.md §6.8/§6.9),
 * and either direction can be rewritten on its way (fault injection).
 */
import { expect } from 'vitest';
import { VoiceOpcode } from '../../src/protocol/constants.js';
import { DaveClient } from '../../src/dave/dave-client.js';
import { daveInboundOf } from '../../src/dave/dave-endpoint.js';
import type {
  DaveClientMessage,
  DaveEndpoint,
  DaveEndpointContext,
  DaveEndpointEvent,
  DaveInbound,
} from '../../src/dave/dave-endpoint.js';
import { DaveDeliveryService } from '../../src/server/dave/delivery-service.js';
import type { DaveOutbound, DaveServerMessage } from '../../src/server/dave/delivery-service.js';

export const CHANNEL = '1300000000000000001';
export const OPUS = Uint8Array.from([0xfc, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
export const SILENCE = Uint8Array.of(0xf8, 0xff, 0xfe);

/** A member: our DaveClient unless it was made with another endpoint (davey's). */
export interface Node<E extends DaveEndpoint = DaveClient> {
  id: string;
  client: E;
  sent: DaveClientMessage[];
  events: DaveEndpointEvent[];
}

type Item = { to: string; inbound: DaveInbound } | { from: string; message: DaveClientMessage };

/** A service message as the client takes it (the same decoding as the session's). */
function inboundOf(m: DaveServerMessage): DaveInbound {
  const inbound = daveInboundOf(m);
  if (inbound === undefined) throw new Error(`op ${m.op} is not a DAVE message`);
  return inbound;
}

export class Net {
  /** The decryptors' and the service's clock (the service acts on it only in tick()). */
  clock = 0;
  readonly service = new DaveDeliveryService({ channelId: CHANNEL, now: () => this.clock });
  readonly nodes = new Map<string, Node<DaveEndpoint>>();
  private queue: Item[] = [];
  /** Op 22 messages held back while `holdExecute` is set. */
  held: Item[] = [];
  holdExecute = false;
  /** Rewrites a server message on its way to a client (fault injection). */
  intercept: ((to: string, m: DaveInbound) => DaveInbound) | undefined;
  /** Rewrites a client's message on its way to the service. */
  interceptClient: ((from: string, m: DaveClientMessage) => DaveClientMessage) | undefined;

  node(id: string): Node<DaveEndpoint> {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  join(id: string, maxVersion?: number): Node;
  join<E extends DaveEndpoint>(
    id: string,
    maxVersion: number,
    make: (context: DaveEndpointContext) => E,
  ): Node<E>;
  join(
    id: string,
    maxVersion = 1,
    make?: (context: DaveEndpointContext) => DaveEndpoint,
  ): Node<DaveEndpoint> {
    const sent: DaveClientMessage[] = [];
    const events: DaveEndpointEvent[] = [];
    const context: DaveEndpointContext = {
      userId: id,
      channelId: CHANNEL,
      send: (message) => {
        sent.push(message);
        this.queue.push({ from: id, message });
      },
      notify: (event) => events.push(event),
    };
    const client = make?.(context) ?? new DaveClient({ ...context, now: () => this.clock });
    const node: Node<DaveEndpoint> = { id, sent, events, client };
    const others = [...this.nodes.keys()];
    for (const o of others)
      this.queue.push({ to: o, inbound: { op: VoiceOpcode.ClientsConnect, userIds: [id] } });
    this.nodes.set(id, node);
    const out = this.service.join(id, maxVersion);
    if (maxVersion >= 1) {
      this.queue.push({
        to: id,
        inbound: { op: VoiceOpcode.SessionDescription, protocolVersion: this.service.sessionVersionFor(id) },
      });
      if (others.length > 0)
        this.queue.push({ to: id, inbound: { op: VoiceOpcode.ClientsConnect, userIds: others } });
    }
    this.deliver(out);
    return node;
  }

  leave(id: string): void {
    this.node(id).client.destroy();
    this.nodes.delete(id);
    for (const o of this.nodes.keys())
      this.queue.push({ to: o, inbound: { op: VoiceOpcode.ClientDisconnect, userId: id } });
    this.deliver(this.service.leave(id));
  }

  /** Moves the clock to the service's next deadline (a transition timeout) and delivers what it sends. */
  expireNext(): boolean {
    const deadline = this.service.nextDeadline();
    if (deadline === undefined) return false;
    this.clock = Math.max(this.clock, deadline);
    this.deliver(this.service.tick());
    return true;
  }

  /** Delivers the held op 22 messages and stops holding. */
  releaseExecute(): void {
    this.holdExecute = false;
    this.queue.push(...this.held);
    this.held = [];
  }

  /** Delivers everything, in order, until nobody has anything left to say. */
  async run(): Promise<void> {
    for (let round = 0; round < 100; round++) {
      while (this.queue.length > 0) this.step(this.queue.shift()!);
      await Promise.all([...this.nodes.values()].map((n) => n.client.settled()));
      if (this.queue.length === 0) return;
    }
    throw new Error('message loop did not settle');
  }

  private deliver(out: DaveOutbound[]): void {
    for (const o of out) this.queue.push({ to: o.to, inbound: inboundOf(o.message) });
  }

  /** When set, each delivered message as a line, with every member's epoch after it. */
  trace: string[] | undefined;

  private step(item: Item): void {
    this.deliverItem(item);
    if (this.trace === undefined) return;
    const id = (u: string): string => u.slice(-2);
    const m = 'to' in item ? item.inbound : item.message;
    const fields = 'to' in item ? { ...item.inbound, payload: undefined } : 'd' in m ? m.d : {};
    const epochs = [...this.nodes.values()].map((n) => `${id(n.id)}@${n.client.epoch ?? '-'}`).join(' ');
    this.trace.push(
      `${'to' in item ? `-> ${id(item.to)}` : `<- ${id(item.from)}`} op ${m.op} ${JSON.stringify(fields)} | ${epochs} | service @${this.service.epoch} [${this.service.members().map(id).join(' ')}]`,
    );
  }

  private deliverItem(item: Item): void {
    if ('to' in item) {
      const node = this.nodes.get(item.to);
      if (node === undefined) return;
      if (this.holdExecute && item.inbound.op === VoiceOpcode.DaveExecuteTransition) {
        this.held.push(item);
        return;
      }
      node.client.handle(this.intercept ? this.intercept(item.to, item.inbound) : item.inbound);
      return;
    }
    if (!this.nodes.has(item.from)) return;
    const m = this.interceptClient ? this.interceptClient(item.from, item.message) : item.message;
    switch (m.op) {
      case VoiceOpcode.DaveTransitionReady:
        this.deliver(this.service.transitionReady(item.from, m.d.transition_id));
        return;
      case VoiceOpcode.DaveMlsInvalidCommitWelcome:
        this.deliver(this.service.invalidCommitWelcome(item.from, m.d.transition_id));
        return;
      case VoiceOpcode.DaveMlsKeyPackage:
        this.deliver(this.service.keyPackage(item.from, m.payload).out);
        return;
      case VoiceOpcode.DaveMlsCommitWelcome:
        this.deliver(this.service.commitWelcome(item.from, m.payload).out);
    }
  }
}

export function sentOps(n: Node<DaveEndpoint>): number[] {
  return n.sent.map((m) => m.op);
}

export function decrypts(from: Node<DaveEndpoint>, to: Node<DaveEndpoint>, frame = OPUS): boolean {
  const wire = from.client.encrypt(frame);
  if (wire === null) return false;
  const result = to.client.decrypt(from.id, wire);
  return result.ok && Buffer.from(result.frame).equals(Buffer.from(frame));
}

export function expectAgreement(nodes: Node<DaveEndpoint>[], what?: string): void {
  const epochs = new Set(nodes.map((n) => n.client.epoch));
  const codes = new Set(nodes.map((n) => n.client.privacyCode));
  const auths = new Set(nodes.map((n) => Buffer.from(n.client.epochAuthenticator ?? []).toString('hex')));
  expect([...epochs], what).toHaveLength(1);
  expect(codes.size, what).toBe(1);
  expect(auths.size, what).toBe(1);
  expect([...codes][0], what).toMatch(/^\d{30}$/);
}

/** Two members A, B with the first transition executed. */
export async function pair(): Promise<{ net: Net; a: Node; b: Node }> {
  const net = new Net();
  const a = net.join('600000000000000001');
  const b = net.join('600000000000000002');
  await net.run();
  return { net, a, b };
}
