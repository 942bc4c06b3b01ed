/**
 * A real OTLP/HTTP metrics receiver on loopback: decodes http/json and
 * http/protobuf ExportMetricsServiceRequests into one normalized shape.
 * It can also refuse (503) or hang, for the outage specs.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';

export interface ExportedPoint {
  attributes: Record<string, unknown>;
  value?: number;
  count?: number;
  sum?: number;
  bucketCounts?: number[];
  bounds?: number[];
  scale?: number;
  /** startTimeUnixNano, in ms. */
  startMs?: number;
}

export interface ExportedMetric {
  scope: string;
  name: string;
  unit: string;
  description: string;
  kind: 'sum' | 'gauge' | 'histogram' | 'exponential_histogram';
  monotonic?: boolean;
  /** 1 delta, 2 cumulative */
  temporality?: number;
  points: ExportedPoint[];
}

export interface ExportRequest {
  contentType: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  resource: Record<string, unknown>;
  metrics: ExportedMetric[];
}

let requestType: protobuf.Type | undefined;
function protoType(): protobuf.Type {
  if (requestType === undefined) {
    const root = protobuf.loadSync(join(__dirname, 'otlp-metrics.proto'));
    requestType = root.lookupType('otlp.ExportMetricsServiceRequest');
  }
  return requestType;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function anyValue(v: Json | undefined): unknown {
  if (v === undefined || v === null) return undefined;
  if ('stringValue' in v && v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if ('boolValue' in v && v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  if ('intValue' in v && v.intValue !== undefined && v.intValue !== null) return Number(v.intValue);
  if ('doubleValue' in v && v.doubleValue !== undefined && v.doubleValue !== null) return Number(v.doubleValue);
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(anyValue);
  return undefined;
}

function attrs(list: Json[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

const num = (v: unknown) => (v === undefined || v === null ? undefined : Number(v));

function decodeProtobuf(raw: Buffer): Json {
  const t = protoType();
  return t.toObject(t.decode(raw), { longs: Number, enums: Number, defaults: false, oneofs: false }) as Json;
}

function normalize(body: Json): { resource: Record<string, unknown>; metrics: ExportedMetric[] } {
  let resource: Record<string, unknown> = {};
  const metrics: ExportedMetric[] = [];
  for (const rm of body.resourceMetrics ?? []) {
    resource = attrs(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const base = { scope: sm.scope?.name ?? '', name: m.name, unit: m.unit ?? '', description: m.description ?? '' };
        if (m.sum) {
          metrics.push({
            ...base, kind: 'sum', monotonic: Boolean(m.sum.isMonotonic), temporality: num(m.sum.aggregationTemporality),
            points: (m.sum.dataPoints ?? []).map((p: Json) => ({ attributes: attrs(p.attributes), value: num(p.asDouble ?? p.asInt) })),
          });
        } else if (m.gauge) {
          metrics.push({
            ...base, kind: 'gauge',
            points: (m.gauge.dataPoints ?? []).map((p: Json) => ({ attributes: attrs(p.attributes), value: num(p.asDouble ?? p.asInt) })),
          });
        } else if (m.histogram) {
          metrics.push({
            ...base, kind: 'histogram', temporality: num(m.histogram.aggregationTemporality),
            points: (m.histogram.dataPoints ?? []).map((p: Json) => ({
              attributes: attrs(p.attributes), count: num(p.count), sum: num(p.sum),
              bucketCounts: (p.bucketCounts ?? []).map(Number), bounds: (p.explicitBounds ?? []).map(Number),
              startMs: Number(String(p.startTimeUnixNano ?? 0)) / 1e6,
            })),
          });
        } else if (m.exponentialHistogram) {
          metrics.push({
            ...base, kind: 'exponential_histogram', temporality: num(m.exponentialHistogram.aggregationTemporality),
            points: (m.exponentialHistogram.dataPoints ?? []).map((p: Json) => ({
              attributes: attrs(p.attributes), count: num(p.count), sum: num(p.sum), scale: num(p.scale),
            })),
          });
        }
      }
    }
  }
  return { resource, metrics };
}

export type ReceiverMode = 'accept' | 'refuse' | 'hang';

export class OtlpReceiver {
  readonly exports: ExportRequest[] = [];
  mode: ReceiverMode = 'accept';
  private readonly _server: http.Server;
  private readonly _waiters: (() => void)[] = [];
  private readonly _hanging = new Set<http.ServerResponse>();

  constructor() {
    this._server = http.createServer((req, res) => this._handle(req, res));
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>(resolve => this._server.listen(port, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return (this._server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/v1/metrics`;
  }

  /** Resolves at the next export received after this call. */
  next(timeoutMs = 10_000): Promise<ExportRequest> {
    const before = this.exports.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no OTLP export within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        if (this.exports.length > before) {
          clearTimeout(timer);
          resolve(this.exports[this.exports.length - 1]!);
        } else this._waiters.push(check);
      };
      check();
    });
  }

  async stop(): Promise<void> {
    for (const res of this._hanging) res.destroy();
    this._hanging.clear();
    this._server.closeAllConnections();
    await new Promise<void>(resolve => this._server.close(() => resolve()));
  }

  private _handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      if (this.mode === 'hang') {
        this._hanging.add(res);
        return;
      }
      if (this.mode === 'refuse') {
        res.writeHead(503).end();
        return;
      }
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const contentType = String(req.headers['content-type'] ?? '');
      let body: Json;
      if (contentType.includes('json')) body = JSON.parse(raw.toString('utf8'));
      else body = decodeProtobuf(raw);
      this.exports.push({ contentType, path: req.url ?? '', headers: req.headers, ...normalize(body) });
      res.writeHead(200, { 'Content-Type': contentType.includes('json') ? 'application/json' : 'application/x-protobuf' });
      res.end(contentType.includes('json') ? '{}' : undefined);
      for (const w of this._waiters.splice(0)) w();
    });
  }
}

/** The newest point of `name` with attributes including `want`, across all exports so far. */
export function latest(exports: ExportRequest[], name: string, want: Record<string, unknown> = {}): ExportedPoint[] {
  for (let i = exports.length - 1; i >= 0; i--) {
    const m = exports[i]!.metrics.find(x => x.name === name);
    if (m !== undefined) return m.points.filter(p => Object.keys(want).every(k => p.attributes[k] === want[k]));
  }
  return [];
}

/** A real OTLP/gRPC metrics receiver (MetricsService/Export) on loopback. */
export class OtlpGrpcReceiver {
  readonly exports: ExportRequest[] = [];
  private readonly _server = new grpc.Server();
  port = 0;

  async start(): Promise<this> {
    const identity = (b: Buffer) => b;
    this._server.addService(
      {
        Export: {
          path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: () => Buffer.alloc(0),
          responseDeserialize: identity,
        },
      },
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          this.exports.push({ contentType: 'application/grpc', path: call.getPath(), headers: call.metadata.getMap() as never, ...normalize(decodeProtobuf(call.request)) });
          callback(null, Buffer.alloc(0));
        },
      },
    );
    this.port = await new Promise<number>((resolve, reject) =>
      this._server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  stop(): Promise<void> {
    return new Promise(resolve => this._server.tryShutdown(() => resolve()));
  }
}
