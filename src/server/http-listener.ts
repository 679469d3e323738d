/**
 * Listening and closing for the local server's two websocket servers (voice gateway, main gateway),
 * each a `ws` server over one HTTP(S) server.
 */
import type { Server } from 'node:http';
import type { WebSocketServer } from 'ws';

/** Listens on host:port; rejects with the server's error (EADDRINUSE...). */
export async function listenHttp(
  http: Server,
  wss: WebSocketServer,
  port: number,
  host: string,
): Promise<void> {
  // The websocket server re-emits the http server's errors: the rejection reports them.
  wss.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
}

/** Stops accepting, drops every open connection, and resolves once both servers are closed. */
export async function closeHttp(http: Server, wss: WebSocketServer): Promise<void> {
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
}
