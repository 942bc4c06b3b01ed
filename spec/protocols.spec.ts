/**
 * The transport × protocol interface (lib/protocols/protocol.ts) on its own: a
 * protocol written in the spec, plugged into the real HTTP and exec paths the
 * way protocols/index.ts plugs in MCP, against a real loopback server and real
 * child processes. It records what it is shown (heads, body chunks, the end)
 * and gives each verdict in turn; the metrics read back show what each verdict
 * does to the exchange's own sample and to in-flight.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { semconv } from '../lib';
import { resolveConfig } from '../lib/config/resolve';
import { ExecPath } from '../lib/paths/exec';
import { HttpPath } from '../lib/paths/http';
import { PROTOCOLS } from '../lib/protocols';
import { mcpProtocol } from '../lib/protocols/mcp';
import { SKIP, type Chunk, type Exchange, type ExchangeEnd, type HttpReader, type Protocol, type RequestHead, type ResponseHead, type StdioChild, type StdioReader, type Verdict } from '../lib/protocols/protocol';
import { FETCH_BODIES } from './helpers/capabilities';
import { captureDiag, type Captured } from './helpers/diag';
import { harness, histogram, point, points, total, type Harness } from './helpers/metrics';

const D = semconv.METRIC_REQUEST_DURATION;
const E = semconv.METRIC_REQUEST_ERRORS;
const A = semconv.METRIC_REQUESTS_ACTIVE;

const text = (chunks: Chunk[]) => chunks.map(c => (typeof c === 'string' ? c : Buffer.from(c).toString('utf8'))).join('');

/** What one reader was shown. */
interface Seen {
  head: { method: string; path: string; tag: string | undefined };
  request: Chunk[];
  bodySeen: boolean | undefined;
  response: { status: number; type: string | undefined } | undefined;
  answer: Chunk[];
  ends: { failed: boolean; errorType: string | undefined; seconds: number }[];
}

/**
 * The spec's protocol: claims POSTs to `/toy/<verdict>`; `/toy/skip` is no
 * call at all. A `read` reader of `/toy/read-relabel` changes the exchange's
 * error type at its end; an owner records the exchange itself as an error of
 * type `toy_owned`.
 */
function toyProtocol(h: Harness, seen: Seen[]): Protocol {
  return {
    name: 'toy',
    http(head: RequestHead) {
      if (head.method !== 'POST' || !head.path.startsWith('/toy/')) return undefined;
      const verdict = head.path.slice('/toy/'.length);
      if (verdict === 'skip') return SKIP;
      const s: Seen = { head: { method: head.method, path: head.path, tag: head.header('x-toy') }, request: [], bodySeen: undefined, response: undefined, answer: [], ends: [] };
      seen.push(s);
      let exchange: Exchange | undefined;
      const reader: HttpReader = {
        requestChunk: c => void s.request.push(typeof c === 'string' ? c : Buffer.from(c)),
        requestEnd(x): Verdict {
          exchange = x;
          s.bodySeen = x.bodySeen;
          return verdict.startsWith('read') ? 'read' : (verdict as Verdict);
        },
        responseHead: (r: ResponseHead) => void (s.response = { status: r.status, type: r.header('content-type') }),
        responseChunk: c => void s.answer.push(Buffer.from(c as Uint8Array)),
        end(e: ExchangeEnd) {
          s.ends.push({ failed: e.failed, errorType: e.errorType, seconds: e.seconds });
          if (verdict === 'read-relabel') e.errorType = 'toy_relabelled';
          if (verdict === 'own') h.metrics.autoEnd(exchange!.series, e.seconds, 'toy_owned', undefined);
        },
      };
      return reader;
    },
  };
}

/** A protocol whose every method throws. */
const throwing: Protocol = {
  name: 'throws',
  http: () => ({
    requestChunk: () => { throw new Error('toy requestChunk'); },
    requestEnd: () => { throw new Error('toy requestEnd'); },
    responseHead: () => { throw new Error('toy responseHead'); },
    responseChunk: () => { throw new Error('toy responseChunk'); },
    end: () => { throw new Error('toy end'); },
  }),
  stdio: () => ({
    stdin: () => { throw new Error('toy stdin'); },
    stdout: () => { throw new Error('toy stdout'); },
    close: () => { throw new Error('toy close'); },
  }),
};

async function server(): Promise<{ port: number; close(): Promise<void> }> {
  const s = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', d => parts.push(d));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-toy' });
      res.write('echo:');
      setTimeout(() => res.end(Buffer.concat(parts)), 20);
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

/** node:http POST, the body written in two pieces. */
function post(port: number, path: string, pieces: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'x-toy': 'tag-1' } }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', d => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    for (const p of pieces.slice(0, -1)) req.write(p);
    req.end(pieces[pieces.length - 1]);
  });
}

describe('protocols: the interface between transports and protocol readers', () => {
  let h: Harness;
  let diag: Captured;
  let srv: { port: number; close(): Promise<void> };
  let path: HttpPath | undefined;
  let exec: ExecPath | undefined;

  beforeEach(async () => {
    diag = captureDiag();
    h = harness();
    srv = await server();
  });
  afterEach(async () => {
    path?.disable();
    exec?.disable();
    path = exec = undefined;
    await srv.close();
    await h.shutdown();
    diag.restore();
  });

  function httpPath(protocols: Protocol[]): void {
    path = new HttpPath(h.metrics, resolveConfig({ http: { nodeFor: { [`127.0.0.1:${srv.port}`]: 'toy-node' } } }, {}).http!, protocols);
    path.enable();
  }

  it('registers MCP in the list the paths are given', () => {
    expect(PROTOCOLS).to.include(mcpProtocol);
  });

  it('node:http: a reader sees the head, every body chunk both ways and one end; `read` keeps the plain sample', async () => {
    const seen: Seen[] = [];
    httpPath([toyProtocol(h, seen)]);
    expect(await post(srv.port, '/toy/read', ['hello ', 'world'])).to.equal('echo:hello world');
    expect(await post(srv.port, '/other', ['not claimed'])).to.equal('echo:not claimed');
    expect(seen).to.have.length(1);
    const s = seen[0]!;
    expect(s.head).to.deep.equal({ method: 'POST', path: '/toy/read', tag: 'tag-1' });
    expect(text(s.request)).to.equal('hello world');
    expect(s.bodySeen).to.equal(true);
    expect(s.response).to.deep.equal({ status: 200, type: 'application/x-toy' });
    expect(text(s.answer)).to.equal('echo:hello world');
    expect(s.ends).to.have.length(1);
    expect(s.ends[0]!.failed).to.equal(false);
    expect(s.ends[0]!.errorType).to.equal(undefined);
    const rm = await h.collect();
    expect(histogram(rm, D, { node: 'toy-node', status: 'success' }).count).to.equal(2);
    expect(point(rm, A, { node: 'toy-node' }).value).to.equal(0);
  });

  it('fetch: the same, with the body chunks where the runtime publishes them', async () => {
    const seen: Seen[] = [];
    httpPath([toyProtocol(h, seen)]);
    const r = await fetch(`http://127.0.0.1:${srv.port}/toy/read`, { method: 'POST', body: 'fetched body', headers: { 'x-toy': 'tag-2' } });
    expect(await r.text()).to.equal('echo:fetched body');
    expect(seen).to.have.length(1);
    const s = seen[0]!;
    expect(s.head).to.deep.equal({ method: 'POST', path: '/toy/read', tag: 'tag-2' });
    expect(s.bodySeen).to.equal(FETCH_BODIES);
    expect(text(s.request)).to.equal(FETCH_BODIES ? 'fetched body' : '');
    expect(s.response).to.deep.equal({ status: 200, type: 'application/x-toy' });
    expect(text(s.answer)).to.equal(FETCH_BODIES ? 'echo:fetched body' : '');
    expect(s.ends).to.have.length(1);
    const rm = await h.collect();
    expect(histogram(rm, D, { node: 'toy-node', status: 'success' }).count).to.equal(1);
    expect(point(rm, A, { node: 'toy-node' }).value).to.equal(0);
  });

  it('a `read` reader may change the error type at the end; `own` records in place of the exchange; `drop` and SKIP record nothing', async () => {
    const seen: Seen[] = [];
    httpPath([toyProtocol(h, seen)]);
    await post(srv.port, '/toy/read-relabel', ['a']);
    await post(srv.port, '/toy/own', ['b']);
    await post(srv.port, '/toy/drop', ['c']);
    await post(srv.port, '/toy/skip', ['d']);
    expect(seen.map(s => s.head.path)).to.deep.equal(['/toy/read-relabel', '/toy/own', '/toy/drop']);
    // A dropped exchange is told nothing more after its verdict.
    expect(seen[2]!.response).to.equal(undefined);
    expect(seen[2]!.ends).to.deep.equal([]);
    const rm = await h.collect();
    expect(points(rm, D, { node: 'toy-node', status: 'success' })).to.have.length(0);
    expect(histogram(rm, D, { node: 'toy-node', status: 'error' }).count).to.equal(2);
    expect(points(rm, E, { node: 'toy-node' }).map(p => [p.attributes['error.type'], p.value]).sort()).to.deep.equal([['toy_owned', 1], ['toy_relabelled', 1]]);
    expect(point(rm, A, { node: 'toy-node' }).value).to.equal(0);
  });

  it('a reader that throws everywhere changes nothing for the host: the answer, one plain sample, a warning', async () => {
    httpPath([throwing]);
    expect(await post(srv.port, '/x', ['still ', 'answered'])).to.equal('echo:still answered');
    const r = await fetch(`http://127.0.0.1:${srv.port}/y`, { method: 'POST', body: 'fetch too' });
    expect(await r.text()).to.equal('echo:fetch too');
    const rm = await h.collect();
    expect(histogram(rm, D, { node: 'toy-node', status: 'success' }).count).to.equal(2);
    expect(point(rm, A, { node: 'toy-node' }).value).to.equal(0);
    expect(diag.warn.some(w => w.includes('http path: Error: toy'))).to.equal(true);
  });

  describe('exec: stdio readers', function () {
    this.timeout(20_000);
    const ECHO = 'process.stdin.on("data", d => process.stdout.write("out:" + d)); process.stdin.on("end", () => process.exit(0));';

    function run(input: string): Promise<string> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['-e', ECHO, 'toy-child'], { stdio: ['pipe', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', d => (out += d));
        child.on('error', reject);
        child.on('close', () => resolve(out));
        child.stdin.end(input);
      });
    }

    it('a reader sees both streams; one that owns the child takes its process sample away', async () => {
      const shown: { stdin: Chunk[]; stdout: Chunk[]; closed: (string | undefined)[] }[] = [];
      const toy: Protocol = {
        name: 'toy-stdio',
        stdio(child: StdioChild): StdioReader {
          const s = { stdin: [] as Chunk[], stdout: [] as Chunk[], closed: [] as (string | undefined)[] };
          shown.push(s);
          let owned = false;
          return {
            stdin(c) {
              s.stdin.push(Buffer.from(c as Uint8Array));
              if (!owned && text([c]).startsWith('TOY')) {
                owned = true;
                child.own();
              }
            },
            stdout: c => void s.stdout.push(Buffer.from(c as Uint8Array)),
            close(errorType) {
              s.closed.push(errorType);
              // own() took the process out of flight: the reader's calls count their own.
              if (owned) {
                h.metrics.autoStart(child.series);
                h.metrics.autoEnd(child.series, 0.001, 'toy_owned', undefined);
              }
              return owned;
            },
          };
        },
      };
      exec = new ExecPath(h.metrics, { nodeFor: (_f, args) => (args.includes('toy-child') ? 'toy-child' : undefined) }, [toy, throwing]);
      exec.enable();
      expect(await run('plain input')).to.equal('out:plain input');
      expect(await run('TOY input')).to.equal('out:TOY input');
      expect(shown.map(s => [text(s.stdin), text(s.stdout), s.closed])).to.deep.equal([
        ['plain input', 'out:plain input', [undefined]],
        ['TOY input', 'out:TOY input', [undefined]],
      ]);
      const rm = await h.collect();
      // The first child is one process sample; the second is the reader's.
      expect(histogram(rm, D, { node: 'toy-child', transport: 'exec', status: 'success' }).count).to.equal(1);
      expect(total(rm, E, { node: 'toy-child', 'error.type': 'toy_owned' })).to.equal(1);
      expect(point(rm, A, { node: 'toy-child' }).value).to.equal(0);
      expect(diag.warn.some(w => w.includes('exec path: Error: toy'))).to.equal(true);
    });
  });
});
