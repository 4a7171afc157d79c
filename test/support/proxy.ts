import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createSecureServer } from 'node:https';
import { createProxy } from 'proxy';

/**
 * A real HTTP CONNECT proxy (the npm `proxy` package) on 127.0.0.1, closed after the test:
 * its URL (with `credentials` as user:password when it requires them) and the tunnel targets
 * it was asked for, in order.
 */
export async function startProxy(
  t: { after(fn: () => unknown): void },
  credentials?: string,
  /** Serve the proxy over TLS (an https:// proxy) with this certificate and key, in PEM. */
  tls?: { cert: string; key: string },
): Promise<{ url: string; port: number; tunnels: string[] }> {
  const proxy = createProxy(tls ? createSecureServer(tls) : createServer());
  const tunnels: string[] = [];
  proxy.on('connect', (request: IncomingMessage) => tunnels.push(request.url ?? ''));
  if (credentials) {
    proxy.authenticate = (request) => request.headers['proxy-authorization'] === `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  t.after(() => {
    proxy.closeAllConnections?.();
    proxy.close();
  });
  const { port } = proxy.address() as { port: number };
  return { url: `${tls ? 'https' : 'http'}://${credentials ? `${credentials}@` : ''}127.0.0.1:${port}`, port, tunnels };
}
