/**
 * Clients that try to stall /metrics, on raw sockets against real servers
 * (127.0.0.1 only). Every test bounds its sockets and its time, and destroys
 * whatever it opened.
 */
import { expect } from 'chai';
import * as http from 'node:http';
import * as net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { createGatewayMetrics, gatewayViews, type GatewayMetrics } from '../lib';
import { createMetricsServer, listen, MetricsEndpoint, type EndpointOptions } from '../lib/export/endpoint';
import { PrometheusSerializer } from '../lib/export/exposition';
import { captureDiag } from './helpers/diag';
import { useRegistrations } from './helpers/registration';
import { find, parseExposition } from './helpers/prom';

/** 2,200 histogram series: a 6.2 MB exposition, more than loopback socket buffers take. */
const SERIES = 2200;
const GET = 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

function fill<M extends Pick<GatewayMetrics, 'record'>>(metrics: M): M {
  for (let i = 0; i < SERIES; i++) metrics.record({ node: `node-${i}`, transport: 'http', status: 'success', durationSeconds: 0.1 });
  return metrics;
}

/**
 * A well-behaved scraper: the whole exposition, every series there. fetch()
 * asks for gzip unless told otherwise (as Prometheus does). How long it takes
 * is not asserted (a loaded machine stretches any bound): the tests assert
 * instead that it was answered while the abusive clients were still held, so
 * it did not wait for them to be dropped.
 */
async function normalScrape(url: string, encoding = 'gzip'): Promise<{ bytes: number }> {
  const res = await fetch(url, { headers: { 'accept-encoding': encoding } });
  const text = await res.text();
  expect(res.status).to.equal(200);
  const counts = find(parseExposition(text), 'gateway_request_duration_seconds_count');
  expect(counts).to.have.length(SERIES);
  expect(counts.every(s => s.value === 1)).to.equal(true);
  return { bytes: Buffer.byteLength(text) };
}

/** Raw sockets opened by the current test; all destroyed after it. */
function useSockets() {
  const open: net.Socket[] = [];
  afterEach(() => {
    for (const s of open.splice(0)) s.destroy();
  });
  return (port: number, onConnect: (s: net.Socket) => void = () => {}): net.Socket => {
    const s = net.connect(port, '127.0.0.1', () => onConnect(s));
    s.on('error', () => {});
    open.push(s);
    return s;
  };
}

/** A client that reads the first bytes of its answer (so the server has begun it) and then nothing more. */
function stopsReading(s: net.Socket): Promise<void> {
  return new Promise<void>(r => s.once('data', () => {
    s.pause();
    r();
  }));
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Split a byte stream of HTTP/1.1 responses that all carry Content-Length. */
function parseResponses(data: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) throw new Error(`incomplete head at byte ${at}`);
    const [statusLine, ...lines] = data.subarray(at, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const length = Number(headers['content-length']);
    if (!Number.isInteger(length)) throw new Error(`no content-length: ${statusLine}`);
    if (end + 4 + length > data.length) throw new Error(`incomplete body at byte ${at}`);
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: data.subarray(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return out;
}

describe('/metrics endpoint under abusive clients', () => {
  describe('a registration with a 6.2 MB exposition', () => {
    // Sockets first: their afterEach runs before the registration's shutdown waits for its connections.
    const socket = useSockets();
    const reg = useRegistrations();
    const setup = async () => {
      const o = await reg.ready({ maxNodes: 10_000 });
      fill(o.metrics);
      // Scraped once before the abuse starts, as a live endpoint would have been.
      await normalScrape(o.prometheusUrl!);
      return { url: o.prometheusUrl!, port: Number(new URL(o.prometheusUrl!).port) };
    };

    it('one connection pipelines 9 scrapes and goes, another pipelines 9 and stops reading: a normal scrape answers in full meanwhile', async () => {
      const { url, port } = await setup();
      const gone = socket(port, s => s.write(GET.repeat(9)));
      const stays = socket(port, s => s.write(GET.repeat(9)));
      // Both are being answered before the normal scrape asks.
      await Promise.all([stopsReading(gone), stopsReading(stays)]);
      gone.destroy();
      await normalScrape(url);
      await normalScrape(url, 'identity');
      // Answered while the one that stays was still held: they did not wait for its drop (10 s without a read).
      expect(stays.destroyed || stays.readableEnded).to.equal(false);
      expect(reg.diag.warn.filter(w => w.includes('response dropped'))).to.deep.equal([]);
    });

    it('9 clients send GET /metrics and stop reading: a normal scrape answers in full meanwhile', async () => {
      const { url, port } = await setup();
      const stuck = Array.from({ length: 9 }, () => socket(port, s => s.write(GET)));
      await Promise.all(stuck.map(stopsReading));
      await normalScrape(url);
      await normalScrape(url, 'identity');
      expect(stuck.filter(s => s.destroyed || s.readableEnded)).to.have.length(0);
      expect(reg.diag.warn.filter(w => w.includes('response dropped'))).to.deep.equal([]);
    });

    it('slowloris, 500 sockets trickling header bytes: a normal scrape answers in full meanwhile; the server drops them all with 408', async function () {
      this.timeout(30_000);
      const { url, port } = await setup();
      const head = `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(100)}`;
      const t0 = Date.now();
      const closedAt: number[] = [];
      const answers: string[] = [];
      const sockets = Array.from({ length: 500 }, () => {
        const s = Object.assign(socket(port), { sent: 0, answer: '' });
        s.setEncoding('latin1');
        s.on('data', (d: string) => (s.answer += d)); // read the server's 408, so its close reaches us
        return s;
      });
      const allClosed = Promise.all(sockets.map(s => new Promise<void>(r => s.on('close', () => {
        closedAt.push(Date.now() - t0);
        answers.push(s.answer.split('\r\n')[0]!);
        r();
      }))));
      // One more header byte per socket every 100 ms: 145 bytes would take 14.5 s.
      let ticks = 0;
      let ticked!: () => void;
      const trickling = new Promise<void>(r => (ticked = r));
      const trickle = setInterval(() => {
        for (const s of sockets) if (!s.destroyed && !s.connecting && s.sent < head.length) s.write(head[s.sent++]!);
        if (++ticks === 5) ticked();
      }, 100);
      try {
        // Every connected socket has sent bytes five times over before the normal scrapes ask.
        await trickling;
        await normalScrape(url);
        await normalScrape(url, 'identity');
        // Headers must arrive within 5 s (checked every second): none of them did.
        await allClosed;
        expect(closedAt).to.have.length(500);
        expect(new Set(answers)).to.deep.equal(new Set(['HTTP/1.1 408 Request Timeout']));
        // Not before the header timeout (a lower bound: a loaded machine only makes it later).
        expect(Math.min(...closedAt)).to.be.at.least(4500);
        // Dropped by the server, not by having sent their whole head: none of them did.
        expect(sockets.filter(s => s.sent >= head.length)).to.deep.equal([]);
      } finally {
        clearInterval(trickle);
      }
    });

    it('answers a pipelining connection one scrape at a time: the first in full, 503 for the rest', async () => {
      const { port } = await setup();
      const chunks: Buffer[] = [];
      // Not end(): a half-closed connection has its pending requests aborted.
      const s = socket(port, c => c.write(GET.repeat(3)));
      // Parsed as the bytes arrive, until all three responses are there.
      const responses = await new Promise<RawResponse[]>(resolve => s.on('data', d => {
        chunks.push(d);
        try {
          const all = parseResponses(Buffer.concat(chunks));
          if (all.length === 3) resolve(all);
        } catch {
          // not all there yet
        }
      }));
      expect(responses.map(r => r.status)).to.deep.equal([200, 503, 503]);
      expect(find(parseExposition(responses[0]!.body.toString()), 'gateway_request_duration_seconds_count')).to.have.length(SERIES);
      expect(responses[1]!.headers['retry-after']).to.equal('1');
      expect(responses[1]!.body.toString()).to.equal('One scrape at a time per connection\n');
    });
  });

  describe('memory a slow reader can pin', () => {
    const socket = useSockets();
    let provider: MeterProvider | undefined;
    let metrics: GatewayMetrics | undefined;
    let closeServer: (() => Promise<void>) | undefined;
    const stop = async () => {
      await closeServer?.();
      metrics?.dispose();
      await provider?.shutdown();
      closeServer = metrics = provider = undefined;
    };
    afterEach(stop);
    /** Our endpoint and listener over a real MeterProvider, with limits of the test's choosing. */
    const start = async (options: Partial<EndpointOptions>) => {
      const reader = new PrometheusExporter({ preventServerStart: true });
      provider = new MeterProvider({ readers: [reader], views: gatewayViews({ maxNodes: 10_000 }) });
      metrics = fill(createGatewayMetrics({ meterProvider: provider, maxNodes: 10_000 }));
      const endpoint = new MetricsEndpoint({ reader, serializer: new PrometheusSerializer(), auth: undefined, ...options });
      const server = createMetricsServer(endpoint, { host: '127.0.0.1', port: 0, path: '/metrics', statsPath: false });
      const { port } = await listen(server, '127.0.0.1', 0);
      closeServer = () => new Promise(r => {
        server.closeAllConnections();
        server.close(() => r());
      });
      return { endpoint, port, url: `http://127.0.0.1:${port}/metrics` };
    };
    /**
     * Waits for a state of the endpoint (its held-bytes counter, a warning). Checked every 10 ms; the cap only
     * turns a hang into a message naming the state, before mocha's own timeout.
     */
    const until = async (what: string, cond: () => boolean, ms = 15_000) => {
      const t0 = Date.now();
      while (!cond()) {
        if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
        await sleep(10);
      }
    };
    /** A client that asks for the exposition and reads nothing until told; resolves its byte count on close. */
    const stuckReader = (port: number) => {
      const s = socket(port, c => c.write(GET));
      s.pause();
      let bytes = 0;
      const closed = new Promise<number>(r => s.on('close', () => r(bytes)));
      return { s, closed: () => (s.on('data', d => (bytes += d.length)).resume(), closed) };
    };

    it('releases what a pipelined-then-gone connection held at once, not after the drain timeout', async () => {
      const drops: string[] = [];
      const { endpoint, port, url } = await start({ drainTimeoutMs: 60_000, onDrop: key => drops.push(key) });
      const { bytes } = await normalScrape(url);
      const s = socket(port, c => c.write(GET.repeat(9)));
      s.pause();
      await until('the pipelined scrape is being written', () => endpoint.heldBytes === bytes);
      s.destroy();
      await until('nothing held', () => endpoint.heldBytes === 0);
      // Released by the connection's close, not by a timeout of ours (which would have been a keyed drop).
      expect(drops).to.deep.equal([]);
    });

    it('releases a scrape queued behind the app’s own slow response on the same connection when that connection goes', async () => {
      const drops: string[] = [];
      const { endpoint } = await start({ drainTimeoutMs: 60_000, onDrop: key => drops.push(key) });
      let late: NodeJS.Timeout | undefined;
      let lateSent = false;
      const app = http.createServer((req, res) => {
        if (req.url === '/metrics') endpoint.metricsHandler(req, res);
        else late = setTimeout(() => res.end('late\n', () => (lateSent = true)), 60_000);
      });
      const { port } = await listen(app, '127.0.0.1', 0);
      try {
        // Our one-scrape-per-connection rule cannot see the app's requests: the scrape is queued behind /slow.
        const s = socket(port, c => c.write(`GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n${GET}`));
        s.pause();
        await until('the queued scrape holds its exposition', () => endpoint.heldBytes > 0);
        s.destroy();
        // Node 22 emits no 'close' on a queued response whose socket closed: the socket's own 'close' ends it.
        await until('nothing held', () => endpoint.heldBytes === 0);
        // Not a timeout of ours (a keyed drop), and well before the app's own response was due.
        expect(drops).to.deep.equal([]);
        expect(lateSent).to.equal(false);
      } finally {
        clearTimeout(late);
        app.closeAllConnections();
        await new Promise(r => app.close(r));
      }
    });

    it('drops the oldest (slowest) reader when the bytes held for unread responses pass the limit', async () => {
      const diag = captureDiag();
      try {
        const { bytes } = await normalScrape((await start({})).url);
        await stop();
        const { endpoint, port, url } = await start({ drainTimeoutMs: 10_000, heldBytesLimit: Math.round(bytes * 2.5) });
        // Each arrives after the previous one's collection: one exposition each.
        const first = stuckReader(port);
        await until('the first reader holds one exposition', () => endpoint.heldBytes === bytes);
        const second = stuckReader(port);
        await until('the second reader holds another', () => endpoint.heldBytes === 2 * bytes);
        // Two are always kept, whatever the limit (two Prometheus replicas may overlap).
        expect(diag.warn.filter(w => w.includes('the oldest (slowest) reader'))).to.deep.equal([]);
        const third = stuckReader(port);
        // Three would be over the limit, so the first reader goes.
        await until('the first reader is dropped', () => diag.warn.some(w => w.includes('the oldest (slowest) reader')));
        expect(endpoint.heldBytes).to.equal(2 * bytes);
        // It gets what the kernel had taken (about 3.9 MB on loopback), then the close.
        expect(await first.closed()).to.be.above(0).and.below(bytes);
        // A normal scrape meanwhile is served, and the other two readers are still being answered.
        await normalScrape(url);
        expect(second.s.destroyed || third.s.destroyed).to.equal(false);
        second.s.destroy();
        third.s.destroy();
        await until('nothing held', () => endpoint.heldBytes === 0);
      } finally {
        diag.restore();
      }
    });

    it('drops a response not taken within the response timeout, however the client reads', async () => {
      const drops: string[] = [];
      const { endpoint, port, url } = await start({ drainTimeoutMs: 60_000, responseTimeoutMs: 400, onDrop: key => drops.push(key) });
      const { bytes } = await normalScrape(url);
      const t0 = Date.now();
      const stuck = stuckReader(port);
      await until('held', () => endpoint.heldBytes === bytes);
      await until('dropped', () => endpoint.heldBytes === 0);
      // Dropped by the response timeout (not the drain timeout), and not before it (a lower bound).
      expect(drops).to.deep.equal(['response-timeout']);
      expect(Date.now() - t0).to.be.at.least(350);
      expect(await stuck.closed()).to.be.below(bytes);
    });
  });
});
