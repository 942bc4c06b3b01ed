/**
 * Under register(), a routed call costs no SDK call on any path: the
 * gateway's instruments record into our series store, which the SDK's readers
 * collect through a MetricProducer. Every synchronous SDK instrument call
 * (Histogram.record, Counter.add, UpDownCounter.add, Gauge.record) goes through
 * SyncInstrument#_record; the spec wraps that one method (calling through) and
 * counts the calls made while each kind of routed call runs, against real
 * servers and child processes, then checks on a real scrape that the call was
 * recorded all the same.
 */
import { expect } from 'chai';
import * as cp from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { GatewayOtel } from '../lib';
import { FETCH_BODIES } from './helpers/capabilities';
import { ROOT } from './helpers/child';
import { find, scrape } from './helpers/prom';
import { useRegistrations } from './helpers/registration';

const RAW = resolve(ROOT, 'spec/fixtures/jsonrpc-raw.cjs');

type RecordFn = (this: unknown, ...args: unknown[]) => unknown;

/** Wrap SyncInstrument#_record (the one every synchronous SDK instrument call goes through), counting calls. */
function countSdkCalls(): { count(): number; restore(): void } {
  const probe = new MeterProvider().getMeter('sdk-calls-probe').createHistogram('probe');
  const proto = Object.getPrototypeOf(Object.getPrototypeOf(probe)) as { _record: RecordFn };
  expect(Object.prototype.hasOwnProperty.call(proto, '_record')).to.equal(true);
  const original = proto._record;
  let n = 0;
  proto._record = function (this: unknown, ...args: unknown[]) {
    n++;
    return original.apply(this, args);
  };
  // The probe itself goes through it: the counting sees SDK calls.
  probe.record(1);
  expect(n).to.equal(1);
  n = 0;
  return { count: () => n, restore: () => void (proto._record = original) };
}

/** A JSON-RPC server over HTTP (JSON answers), also answering plain requests. */
async function server(): Promise<{ port: number; close(): Promise<void> }> {
  const s = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', d => (body += d));
    req.on('end', () => {
      if (req.url !== '/rpc') {
        res.writeHead(200, { 'content-length': '2' }).end('ok');
        return;
      }
      const m = JSON.parse(body) as { id: number };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { content: [] } }));
    });
  });
  await new Promise<void>(r => s.listen(0, '127.0.0.1', r));
  return {
    port: (s.address() as AddressInfo).port,
    close: () => new Promise<void>(r => {
      s.closeAllConnections();
      s.close(() => r());
    }),
  };
}

function post(port: number, path: string, body: string): Promise<string> {
  return new Promise((resolvePost, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', d => (text += d));
      res.on('end', () => resolvePost(text));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One JSON-RPC request on the stdio peer, answered, then the child's stdin closed and the child gone. */
async function stdioCall(): Promise<void> {
  const child = cp.spawn(process.execPath, [RAW], { stdio: ['pipe', 'pipe', 'ignore'] });
  const answered = new Promise<void>(r => child.stdout.once('data', () => r()));
  child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search' } })}\n`);
  await answered;
  child.stdin.end();
  await new Promise(r => child.on('close', r));
}

async function plainChild(): Promise<void> {
  await new Promise(r => cp.execFile(process.execPath, ['-e', '0', 'plain-child'], r));
}

const count = (p: Awaited<ReturnType<typeof scrape>>['parsed'], node: string, transport: string) =>
  find(p, 'gateway_request_duration_seconds_count', { node, transport }).reduce((a, s) => a + s.value, 0);

describe('register(): no SDK call per routed call, on any path', function () {
  this.timeout(30_000);
  const regs = useRegistrations();
  let srv: { port: number; close(): Promise<void> };
  let otel: GatewayOtel;
  let sdk: { count(): number; restore(): void } | undefined;

  beforeEach(async () => {
    srv = await server();
    otel = await regs.ready({
      http: { nodeFor: { [`127.0.0.1:${srv.port}`]: 'web' } },
      exec: { nodeFor: (_f, args) => (args.includes(RAW) ? 'mcp-child' : args.includes('plain-child') ? 'plain-child' : undefined) },
    });
  });
  afterEach(async () => {
    sdk?.restore();
    sdk = undefined;
    await srv.close();
  });

  it('HTTP (node:http and fetch), exec, MCP over stdio and over HTTP: 0 SDK calls, and every call in the scrape', async () => {
    // Warm-up: every series and cell exists before counting.
    await post(srv.port, '/plain', 'x');
    await plainChild();
    await stdioCall();
    await post(srv.port, '/rpc', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } }));

    sdk = countSdkCalls();
    const calls: [string, () => Promise<unknown>][] = [
      ['node:http', () => post(srv.port, '/plain', 'x')],
      ['fetch', async () => (await fetch(`http://127.0.0.1:${srv.port}/plain`)).text()],
      ['exec', plainChild],
      ['MCP stdio', stdioCall],
      ['MCP over node:http', () => post(srv.port, '/rpc', JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo' } }))],
      ['MCP over fetch', async () => (await fetch(`http://127.0.0.1:${srv.port}/rpc`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo' } }),
      })).text()],
    ];
    const perCall: Record<string, number> = {};
    for (const [name, call] of calls) {
      const before = sdk.count();
      await call();
      perCall[name] = sdk.count() - before;
    }
    sdk.restore();
    sdk = undefined;
    expect(perCall).to.deep.equal({ 'node:http': 0, fetch: 0, exec: 0, 'MCP stdio': 0, 'MCP over node:http': 0, 'MCP over fetch': 0 });

    const { parsed } = await scrape(otel.prometheusUrl!);
    // web: the warm-up POST and 2 plain calls, the warm-up JSON-RPC call and 2 more.
    expect(count(parsed, 'web', 'http')).to.equal(6);
    expect(count(parsed, 'plain-child', 'exec')).to.equal(2);
    expect(count(parsed, 'mcp-child', 'exec')).to.equal(2);
    const mcp = (transport: string) => find(parsed, 'mcp_client_operation_duration_seconds_count', { transport }).reduce((a, s) => a + s.value, 0);
    expect(mcp('exec')).to.equal(2);
    // Over fetch the JSON-RPC inside is readable only where fetch publishes body chunks.
    expect(mcp('http')).to.equal(FETCH_BODIES ? 3 : 2);
  });
});
