/**
 * The HTTP path's per-call bookkeeping (issue 16): the node is worked out once
 * per keep-alive socket, the call's state is a property of its own request
 * and response, and their 'close' listeners are shared functions. None of it
 * may change which node a call is recorded under, or what the host sees of
 * its request.
 */
import { expect } from 'chai';
import * as http from 'node:http';
import { semconv, type HttpPathOptions } from '../lib';
import { resolveConfig } from '../lib/config/resolve';
import { HttpPath } from '../lib/paths/http';
import { startAgent, type Agent } from './helpers/agents';
import { harness, histogram, point, total, type Harness } from './helpers/metrics';

const D = semconv.METRIC_REQUEST_DURATION;
const A = semconv.METRIC_REQUESTS_ACTIVE;

/** http.request on `agent`, body read to its end; resolves with the request object. */
function call(agent: http.Agent, url: string, headers: http.OutgoingHttpHeaders = {}): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, headers }, res => {
      res.resume();
      res.on('end', () => resolve(req));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP path: node once per keep-alive socket, state on the call\'s own objects', () => {
  let h: Harness;
  let a: Agent;
  let agent: http.Agent;
  const paths: HttpPath[] = [];

  function enable(options: HttpPathOptions | undefined, into: Harness = h): HttpPath {
    const p = new HttpPath(into.metrics, resolveConfig(options === undefined ? {} : { http: options }, {}).http!);
    p.enable();
    paths.push(p);
    return p;
  }

  beforeEach(async () => {
    h = harness();
    a = await startAgent();
    // One socket: every call after the first reuses it.
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  });
  afterEach(async () => {
    for (const p of paths.splice(0)) p.disable();
    agent.destroy();
    await a.close();
    await h.shutdown();
  });

  it('a map\'s second key (the Host header) is read per call on a reused socket', async () => {
    enable({ nodeFor: { 'front.example:80': 'front', 'back.example:80': 'back' } });
    const sockets = new Set<unknown>();
    for (const host of ['front.example', 'back.example', 'elsewhere.example', 'front.example', 'back.example']) {
      const req = await call(agent, `${a.base}/ok`, { host });
      sockets.add(req.socket);
    }
    expect(sockets.size).to.equal(1);
    const rm = await h.collect();
    expect(histogram(rm, D, { node: 'front' }).count).to.equal(2);
    expect(histogram(rm, D, { node: 'back' }).count).to.equal(2);
    expect(total(rm, D)).to.equal(4);
  });

  it('a request without a Host header, then one with it, on the same socket: the second is mapped by its header', async () => {
    // Node's server answers 400 and closes to a request without Host unless told otherwise.
    const server = http.createServer({ requireHostHeader: false }, (req, res) => {
      req.resume();
      res.end('ok');
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    enable({ nodeFor: { 'front.example:80': 'front' } });
    const sockets = new Set<unknown>();
    try {
      for (const host of [undefined, 'front.example', undefined]) {
        const req = await new Promise<http.ClientRequest>((resolve, reject) => {
          const r = http.request({ host: '127.0.0.1', port, path: '/ok', agent, setHost: false, headers: host === undefined ? {} : { host } }, res => {
            res.resume();
            res.on('end', () => resolve(r));
          });
          r.on('error', reject);
          r.end();
        });
        sockets.add(req.socket);
      }
    } finally {
      agent.destroy();
      server.close();
    }
    expect(sockets.size).to.equal(1);
    const rm = await h.collect();
    expect(histogram(rm, D, { node: 'front' }).count).to.equal(1);
    expect(total(rm, D)).to.equal(1);
  });

  it('a map hit on the destination does not depend on the Host header; zero config neither', async () => {
    enable({ nodeFor: { [a.hostPort]: 'dest', 'front.example:80': 'front' } });
    for (const host of ['front.example', 'other.example', 'front.example']) await call(agent, `${a.base}/ok`, { host });
    let rm = await h.collect();
    expect(histogram(rm, D, { node: 'dest' }).count).to.equal(3);
    expect(total(rm, D)).to.equal(3);
    for (const p of paths.splice(0)) p.disable();
    await h.shutdown();
    h = harness();
    enable(undefined);
    for (const host of ['front.example', 'other.example']) await call(agent, `${a.base}/ok`, { host });
    rm = await h.collect();
    expect(histogram(rm, D, { node: a.hostPort }).count).to.equal(2);
    expect(total(rm, D)).to.equal(2);
  });

  it('setOwnEndpoint() applies to a socket whose node was already worked out', async () => {
    const p = enable(undefined);
    await call(agent, `${a.base}/ok`);
    p.setOwnEndpoint((host, port) => `${host}:${port}` === a.hostPort);
    await call(agent, `${a.base}/ok`);
    p.setOwnEndpoint(undefined);
    await call(agent, `${a.base}/ok`);
    expect(histogram(await h.collect(), D, { node: a.hostPort }).count).to.equal(2);
  });

  it('two paths at once each record the call once and leave nothing in flight', async () => {
    const h2 = harness();
    try {
      enable({ nodeFor: { [a.hostPort]: 'one' } });
      enable({ nodeFor: { [a.hostPort]: 'two' } }, h2);
      await call(agent, `${a.base}/ok`);
      await call(agent, `${a.base}/ok`);
      const rm1 = await h.collect();
      const rm2 = await h2.collect();
      expect(histogram(rm1, D, { node: 'one' }).count).to.equal(2);
      expect(total(rm1, D)).to.equal(2);
      expect(point(rm1, A, { node: 'one' }).value).to.equal(0);
      expect(histogram(rm2, D, { node: 'two' }).count).to.equal(2);
      expect(total(rm2, D)).to.equal(2);
      expect(point(rm2, A, { node: 'two' }).value).to.equal(0);
    } finally {
      await h2.shutdown();
    }
  });

  it('adds no string-keyed property to the request, and one shared \'close\' listener', async () => {
    // Reference: the keys of a request made with no path subscribed.
    const plain = await call(agent, `${a.base}/ok`);
    const plainKeys = Object.keys(plain).sort();
    const plainClose = plain.listenerCount('close');
    enable({ nodeFor: { [a.hostPort]: 'n' } });
    const first = await call(agent, `${a.base}/ok`);
    const second = await call(agent, `${a.base}/ok`);
    expect(Object.keys(first).sort()).to.deep.equal(plainKeys);
    expect(JSON.stringify(Object.keys(second).sort())).to.equal(JSON.stringify(plainKeys));
    expect(first.listenerCount('close')).to.equal(plainClose + 1);
    const added = first.listeners('close').filter(l => !plain.listeners('close').includes(l));
    expect(added).to.have.length(1);
    expect(second.listeners('close')).to.include(added[0]);
    expect(histogram(await h.collect(), D, { node: 'n' }).count).to.equal(2);
  });
});
