/**
 * Where an outbound HTTP call goes, and so its node: the `host:port` the
 * request connects to (default port filled in, IPv6 as `[addr]:port`), the
 * same key for node:http and undici, then zero config, a map or `nodeFor`.
 * Worked out once per socket or origin where the configuration allows.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { describe, type RateLimitedWarner } from '../core/diag';
import type { ResolvedHttpPath } from '../config/resolve';

/** What node:http's ClientRequest holds that the typings leave out. */
export interface ClientRequestInternals {
  timeoutCb?: unknown;
  timeout?: unknown;
  upgradeOrConnect?: unknown;
  res?: IncomingMessage | null;
  agent?: { sockets?: Record<string, unknown[] | undefined>; requests?: Record<string, unknown[] | undefined>; options?: { timeout?: unknown } } | false;
}

/** Says whether a destination is this process's own metrics endpoint. */
export type OwnEndpoint = (host: string, port: string) => boolean;

/** Bound on the origin → node cache (host:port maps stay small; URLs with many hosts must not grow it). */
const ORIGIN_CACHE_MAX = 1024;

/**
 * The node of the calls on one socket (zero config and host:port maps, where
 * it depends on the destination alone): a keep-alive socket carries call
 * after call to the same `host:port`, so it is worked out once per socket
 * instead of once per call (the port lookup, keyHost, the key string and the
 * map lookup: bench/profile/http-pieces.js).
 */
interface SocketNode {
  /** What the node was worked out from: the request's host and protocol. */
  readonly host: string;
  readonly protocol: string;
  /** The Host header it also depended on (a map's second key; undefined: none), or null when it did not. */
  readonly hostHeader: string | undefined | null;
  readonly node: string | undefined;
  /** setOwnEndpoint() generation it was made in. */
  readonly generation: number;
}
type SocketTagged = { [key: symbol]: SocketNode | undefined };

export function defaultPort(protocol: string): string {
  return protocol === 'https:' || protocol === 'wss:' ? '443' : '80';
}

/** A host as it appears in a `host:port` key: lowercase, IPv6 in brackets. */
export function keyHost(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h;
  return h.includes(':') ? `[${h}]` : h;
}

/** `Host: name[:port]` → `name:port` (default port of `protocol` filled in), or undefined. */
export function hostHeaderKey(header: string, protocol: string): string | undefined {
  const h = header.trim().toLowerCase();
  if (h === '') return undefined;
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    if (close === -1) return undefined;
    const rest = h.slice(close + 1);
    return rest === '' ? `${h.slice(0, close + 1)}:${defaultPort(protocol)}` : rest.startsWith(':') ? h : undefined;
  }
  const colon = h.lastIndexOf(':');
  if (colon === -1) return `${h}:${defaultPort(protocol)}`;
  return h.indexOf(':') === colon ? h : undefined;
}

/**
 * The port a node:http request connects to. ClientRequest keeps no port of its
 * own (only in a default `Host` header, which proxies replace), so it comes
 * from the agent's key for the request or its socket (`host:port:…`, what the
 * agent actually connects to), then from the connected socket, then from a
 * `Host` header naming the same host, then the protocol's default.
 */
export function connectPort(request: ClientRequest, host: string, protocol: string, hostHeader: unknown): string {
  const socket = request.socket;
  // A socket's destination never changes, and keep-alive reuses it: look it up once per socket.
  if (socket != null) {
    const known = socketPorts.get(socket);
    if (known !== undefined) return known;
  }
  const port = knownConnectPort(request, socket, host);
  if (port !== undefined) {
    if (socket != null) socketPorts.set(socket, port);
    return port;
  }
  if (typeof hostHeader === 'string') {
    const key = hostHeaderKey(hostHeader, protocol);
    const kh = keyHost(host);
    if (key !== undefined && key.startsWith(`${kh}:`)) return key.slice(kh.length + 1);
  }
  return defaultPort(protocol);
}

/** Destination port per socket, when the agent or the connected socket said it (see connectPort). */
const socketPorts = new WeakMap<object, string>();

/** The port from the agent's key for the request or its socket, else from the connected socket. */
function knownConnectPort(request: ClientRequest, socket: ClientRequest['socket'], host: string): string | undefined {
  const agent = (request as unknown as ClientRequestInternals).agent;
  if (typeof agent === 'object' && agent !== null) {
    const prefix = `${host}:`;
    const lists = socket != null ? agent.sockets : agent.requests;
    const item: unknown = socket ?? request;
    if (lists != null) {
      for (const name in lists) {
        if (!name.startsWith(prefix)) continue;
        const list = lists[name];
        if (list !== undefined && list.includes(item)) {
          const end = name.indexOf(':', prefix.length);
          const port = end === -1 ? name.slice(prefix.length) : name.slice(prefix.length, end);
          if (/^[0-9]+$/.test(port)) return port;
        }
      }
    }
  }
  const remotePort = socket?.remotePort;
  return typeof remotePort === 'number' ? String(remotePort) : undefined;
}
/**
 * 'http://host:port' → ['http:', 'host', 'port'] with the host as keyHost()
 * writes it and the default port filled in.
 */
export function splitOrigin(origin: string): [string | undefined, string | undefined, string | undefined] {
  const at = origin.indexOf('//');
  if (at <= 0) return [undefined, undefined, undefined];
  const protocol = origin.slice(0, at);
  let hostPort = origin.slice(at + 2);
  const slash = hostPort.indexOf('/');
  if (slash !== -1) hostPort = hostPort.slice(0, slash);
  const key = hostHeaderKey(hostPort, protocol);
  if (key === undefined) return [undefined, undefined, undefined];
  const colon = key.lastIndexOf(':');
  return [protocol, key.slice(0, colon), key.slice(colon + 1)];
}

/** The node of each call, by the path's configuration. */
export class HttpNodes {
  private readonly _originNodes = new Map<string, string | null>();
  /** The property under which a socket keeps its SocketNode. */
  private readonly _socketKey: symbol = Symbol('otel-gateway-metrics.http-socket-node');
  /** Bumped by setOwnEndpoint(): older SocketNodes are stale. */
  private _generation = 0;
  private _own: OwnEndpoint | undefined;

  constructor(
    private readonly _config: ResolvedHttpPath,
    private readonly _warn: RateLimitedWarner,
  ) {}

  /** Requests to this destination are the package's own (scrapes of its endpoint): never recorded. */
  setOwnEndpoint(own: OwnEndpoint | undefined): void {
    this._own = own;
    this._originNodes.clear();
    this._generation++;
  }

  /** Node of an undici request to `origin` (`path` only matters to a nodeFor function). */
  ofOrigin(origin: string, path: string): string | undefined {
    if (this._config.mode !== 'nodeFor') return this._ofOrigin(origin);
    const [protocol, host, port] = splitOrigin(origin);
    return protocol === undefined ? undefined : this._nodeFor(protocol, host!, port!, path, undefined);
  }

  /** Node of a node:http call (undefined: not a gateway call), once per socket where it can be (SocketNode). */
  ofRequest(request: ClientRequest): string | undefined {
    const protocol = request.protocol ?? 'http:';
    const rawHost = typeof request.host === 'string' && request.host !== '' ? request.host : 'localhost';
    const socket = request.socket as (ClientRequest['socket'] & SocketTagged) | null;
    const cacheable = socket != null && this._config.mode !== 'nodeFor';
    if (cacheable) {
      const known = socket[this._socketKey];
      if (
        known !== undefined && known.host === rawHost && known.protocol === protocol && known.generation === this._generation &&
        (known.hostHeader === null || known.hostHeader === request.getHeader('host'))
      ) {
        return known.node;
      }
    }
    const rawHeader = request.getHeader('host');
    const hostHeader = typeof rawHeader === 'string' ? rawHeader : undefined;
    const host = keyHost(rawHost);
    const port = connectPort(request, rawHost, protocol, hostHeader);
    const node = this._nodeFor(protocol, host, port, request.path ?? '/', hostHeader);
    // Only once the port is the socket's own (the agent's key or the connected
    // socket said it, see connectPort), not a guess from a header or the protocol.
    if (cacheable && socketPorts.get(socket) === port) {
      // A map's second key (the Host header, or its absence) only counts when the first one missed.
      const headerMatters = this._config.mode === 'map' && !this._config.hostPortMap!.has(`${host}:${port}`);
      const entry: SocketNode = { host: rawHost, protocol, hostHeader: headerMatters ? hostHeader : null, node, generation: this._generation };
      socket[this._socketKey] = entry;
    }
    return node;
  }

  /** Zero config and host:port maps: the node depends on the origin alone, so cache it. */
  private _ofOrigin(origin: string): string | undefined {
    const cached = this._originNodes.get(origin);
    if (cached !== undefined) return cached ?? undefined;
    const [protocol, host, port] = splitOrigin(origin);
    const node = protocol === undefined ? undefined : this._nodeFor(protocol, host!, port!, '/', undefined);
    if (this._originNodes.size >= ORIGIN_CACHE_MAX) this._originNodes.clear();
    this._originNodes.set(origin, node ?? null);
    return node;
  }

  /**
   * Node of a call to `host:port` (host already as keyHost() writes it);
   * undefined when it is not a gateway call. `hostHeader` is the second key of
   * a map; `path` only matters to a nodeFor function.
   */
  private _nodeFor(protocol: string, host: string, port: string, path: string, hostHeader: string | undefined): string | undefined {
    if (this._own !== undefined && this._own(host, port)) return undefined;
    const key = `${host}:${port}`;
    const config = this._config;
    if (config.mode === 'zero-config') return key;
    const map = config.hostPortMap;
    if (map !== undefined) {
      const node = map.get(key);
      if (node !== undefined || hostHeader === undefined) return node;
      const second = hostHeaderKey(hostHeader, protocol);
      return second === undefined ? undefined : map.get(second);
    }
    const nodeFor = config.nodeFor;
    if (nodeFor === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(`${protocol}//${key}${path.startsWith('/') ? path : `/${path}`}`);
    } catch {
      this._warn.warn('url', () => `http path: cannot parse ${describe(`${protocol}//${key}${path}`)}; call not recorded`);
      return undefined;
    }
    try {
      const node = nodeFor(url, key);
      return typeof node === 'string' ? node : undefined;
    } catch (err) {
      this._warn.warn('nodeFor', () => `http.nodeFor threw ${describe(err)}; call not recorded`);
      return undefined;
    }
  }
}
