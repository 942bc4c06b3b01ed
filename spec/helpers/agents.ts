/**
 * Real loopback agents with a fixed plan, for the HTTP path and library specs.
 *
 *   /ok        200 "ok" at once
 *   /503       503 "unavailable"
 *   /slow      200, headers at once, body end after SLOW_MS
 *   /stream    200, chunked body: STREAM_CHUNKS chunks STREAM_GAP_MS apart
 *   /hang      never answers (a client timeout's target)
 *   /sse       GET text/event-stream: an event now and every 50 ms until the client leaves
 *   /sse-post  POST answered with text/event-stream that ends after one event (MCP's POST)
 *   /reset     the agent destroys the socket before answering (a reset by the peer)
 *   /reset-late  the same after 200 ms
 *   upgrade    101 Switching Protocols, then the socket is held until the client closes it
 *   CONNECT    200 Connection Established, then held the same way
 */
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

export const SLOW_MS = 300;
export const STREAM_CHUNKS = 5;
export const STREAM_GAP_MS = 50;
/** Client timeout used by every plan (ms): /hang never answers within it. */
export const CLIENT_TIMEOUT_MS = 200;

export interface Agent {
  port: number;
  /** `127.0.0.1:<port>`: the zero-config node name of this agent. */
  hostPort: string;
  base: string;
  /** Requests the agent received, by path. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

export async function startAgent(): Promise<Agent> {
  const hits = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    req.resume();
    req.on('end', () => {
      switch (path) {
        case '/503':
          res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
          break;
        case '/slow':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('slow;');
          setTimeout(() => res.end('done'), SLOW_MS);
          break;
        case '/stream': {
          res.writeHead(200, { 'content-type': 'text/plain' });
          let n = 0;
          const iv = setInterval(() => {
            n++;
            if (n < STREAM_CHUNKS) res.write(`chunk${n};`);
            else {
              clearInterval(iv);
              res.end(`chunk${n}`);
            }
          }, STREAM_GAP_MS);
          res.on('close', () => clearInterval(iv));
          break;
        }
        case '/hang':
          break;
        case '/sse': {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          res.write('data: hello\n\n');
          const iv = setInterval(() => res.write('data: tick\n\n'), 50);
          res.on('close', () => clearInterval(iv));
          break;
        }
        case '/sse-post':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('event: message\n');
          setTimeout(() => res.end('data: {"jsonrpc":"2.0","id":1,"result":{}}\n\n'), 100);
          break;
        case '/reset':
          req.socket.destroy();
          break;
        case '/reset-late':
          setTimeout(() => req.socket.destroy(), 200);
          break;
        default:
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok');
      }
    });
  });
  const hold = (socket: Socket, head: string) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.write(head);
  };
  server.on('connection', s => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (_req, socket: Socket) => hold(socket, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n'));
  server.on('connect', (_req, socket: Socket) => hold(socket, 'HTTP/1.1 200 Connection Established\r\n\r\n'));
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    hostPort: `127.0.0.1:${port}`,
    base: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise(r => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/**
 * A loopback port nothing listens on, distinct on every call.
 *
 * It is a privileged port (below 1024), checked to refuse a connection. An
 * ephemeral port that was bound and closed is not safe: a server the spec
 * starts afterwards with listen(0) can be handed the same port, and then the
 * "refused" node is that server (a CI run failed that way: the gateway took
 * the port mapped to node "down", and every call through it was recorded twice).
 * listen(0) only hands out ports in the ephemeral range (32768-60999 here).
 */
let nextRefused = 700;
export async function refusedPort(): Promise<number> {
  while (nextRefused < 1024) {
    const port = nextRefused++;
    const refused = await new Promise<boolean>(resolve => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', err => resolve((err as NodeJS.ErrnoException).code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
  throw new Error('no refused loopback port left below 1024');
}

/** Run `fn`, returning its outcome and the seconds the caller waited for it. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value?: T; error?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await fn();
    return { seconds: (performance.now() - t0) / 1000, value };
  } catch (error) {
    return { seconds: (performance.now() - t0) / 1000, error };
  }
}
