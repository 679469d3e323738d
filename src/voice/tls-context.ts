/**
 * One TLS SecureContext per trust configuration, shared by every voice websocket. Without it each
 * `wss://` connection builds its own (`tls.connect` creates a context per call unless given one):
 * an OpenSSL SSL_CTX with its certificate store, about 25 KiB of native memory per connection.
 * Verification stays per connection (`rejectUnauthorized`, the host name check); only the trust
 * anchors and the cipher settings, which are the same for all, are shared.
 */
import { createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';

/** Distinct CA settings kept; a bot uses one, tests a few. Beyond this the oldest is dropped. */
const MAX_CONTEXTS = 8;
const contexts = new Map<string, SecureContext>();

/** The shared context trusting `ca` (PEM), or the system roots (and NODE_EXTRA_CA_CERTS) without one. */
export function sharedSecureContext(ca?: string | Buffer): SecureContext {
  const key = ca === undefined ? '' : typeof ca === 'string' ? `s${ca}` : `b${ca.toString('latin1')}`;
  let context = contexts.get(key);
  if (context === undefined) {
    context = createSecureContext(ca === undefined ? {} : { ca });
    if (contexts.size >= MAX_CONTEXTS) contexts.delete(contexts.keys().next().value!);
    contexts.set(key, context);
  }
  return context;
}
