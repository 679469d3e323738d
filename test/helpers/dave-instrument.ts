/**
 * Test helper: wraps any DaveEndpointFactory (ours or davey's) to record what the endpoint receives
 * and sends, and to tamper with or drop inbound DAVE messages (fault injection for the invalid
 * commit/welcome recovery, or forcing who creates a group).
 */
import type {
  DaveClientMessage,
  DaveEndpoint,
  DaveEndpointFactory,
  DaveInbound,
} from '../../src/dave/dave-endpoint.js';
import { createDaveClient } from '../../src/dave/dave-client.js';

type BinaryInbound = Extract<DaveInbound, { payload: Uint8Array }>;

export interface Instrumented {
  readonly factory: DaveEndpointFactory;
  /** Every inbound message, in order, as handed to the endpoint (after tampering). */
  readonly received: DaveInbound[];
  /** performance.now() when each of `received` was handed to the endpoint. */
  readonly receivedAt: number[];
  /** Every message the endpoint sent. */
  readonly sent: DaveClientMessage[];
  /** The endpoint of the current connection. */
  endpoint: DaveEndpoint | undefined;
  /** Inbound opcodes dropped before the endpoint sees them. */
  readonly drop: Set<number>;
  /** Rewrites the payload of the next inbound binary message with this opcode (once). */
  tamperNext(op: BinaryInbound['op'], rewrite: (payload: Uint8Array) => Uint8Array): void;
  receivedOps(): number[];
  sentOps(): number[];
}

/** Flips one byte `fromEnd` bytes before the end (inside a signature, tag or ciphertext). */
export function flipNearEnd(payload: Uint8Array, fromEnd = 5): Uint8Array {
  const out = Uint8Array.from(payload);
  const at = out.length - fromEnd;
  out[at] = (out[at] ?? 0) ^ 0xff;
  return out;
}

export function instrument(inner: DaveEndpointFactory = createDaveClient): Instrumented {
  const tampers = new Map<number, (payload: Uint8Array) => Uint8Array>();
  const result: Instrumented = {
    received: [],
    receivedAt: [],
    sent: [],
    endpoint: undefined,
    drop: new Set<number>(),
    tamperNext(op, rewrite) {
      tampers.set(op, rewrite);
    },
    receivedOps: () => result.received.map((m) => m.op),
    sentOps: () => result.sent.map((m) => m.op),
    factory: (context) => {
      const endpoint = inner({
        ...context,
        send: (message) => {
          result.sent.push(message);
          context.send(message);
        },
      });
      const wrapped: DaveEndpoint = {
        get protocolVersion() {
          return endpoint.protocolVersion;
        },
        get epoch() {
          return endpoint.epoch;
        },
        get epochAuthenticator() {
          return endpoint.epochAuthenticator;
        },
        get canEncrypt() {
          return endpoint.canEncrypt;
        },
        get privacyCode() {
          return endpoint.privacyCode;
        },
        handle(message) {
          if (result.drop.has(message.op)) return;
          let m = message;
          if ('payload' in m) {
            const rewrite = tampers.get(m.op);
            if (rewrite !== undefined) {
              tampers.delete(m.op);
              m = { op: m.op, payload: rewrite(m.payload) };
            }
          }
          result.received.push(m);
          result.receivedAt.push(performance.now());
          endpoint.handle(m);
        },
        encrypt: (opus) => endpoint.encrypt(opus),
        decrypt: (userId, frame) => endpoint.decrypt(userId, frame),
        verificationCode: (userId) => endpoint.verificationCode(userId),
        settled: () => endpoint.settled(),
        destroy: () => endpoint.destroy(),
      };
      result.endpoint = endpoint;
      return wrapped;
    },
  };
  return result;
}
