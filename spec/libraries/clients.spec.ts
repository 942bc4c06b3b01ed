/**
 * HTTP client libraries as real dependencies, with zero config (node =
 * host:port), against a real loopback agent running the fixed plan of
 * helpers/plan.ts. Each asserts exact counts per node/transport/status, the
 * error types, in-flight back to 0, and (in runPlan) that each call's recorded
 * duration matches the client's own wait.
 */
import { expect } from 'chai';
import { resolveConfig } from '../../lib/config/resolve';
import { HttpPath } from '../../lib/paths/http';
import { CLIENT_TIMEOUT_MS, refusedPort, startAgent, type Agent } from '../helpers/agents';
import { harness, type Harness } from '../helpers/metrics';
import { directUrls, nodesOf, recordedSum, runPlan, seriesOf, type Call } from '../helpers/plan';

interface Case {
  name: string;
  call: () => Promise<Call>;
  /** error.type of the client-timeout call, and what the client itself reported. */
  timeoutType: string;
  timeoutError: (err: unknown) => void;
}

const cases: Case[] = [
  {
    name: 'undici (npm) request() with headersTimeout',
    call: async () => {
      const undici = await import('undici');
      return async (url, { timeoutMs }) => {
        const r = await undici.request(url, timeoutMs === undefined ? {} : { headersTimeout: timeoutMs });
        return { status: r.statusCode, body: await r.body.text() };
      };
    },
    timeoutType: 'timeout',
    timeoutError: err => expect((err as { code?: string }).code).to.equal('UND_ERR_HEADERS_TIMEOUT'),
  },
  {
    name: 'undici (npm) fetch() with AbortSignal.timeout()',
    call: async () => {
      const undici = await import('undici');
      return async (url, { timeoutMs }) => {
        const r = await undici.fetch(url, timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) });
        return { status: r.status, body: await r.text() };
      };
    },
    timeoutType: 'timeout',
    timeoutError: err => expect((err as Error).name).to.equal('TimeoutError'),
  },
  {
    name: 'axios with timeout',
    call: async () => {
      const { default: axios } = await import('axios');
      return async (url, { timeoutMs }) => {
        const r = await axios.get<string>(url, { responseType: 'text', validateStatus: () => true, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }) });
        return { status: r.status, body: r.data };
      };
    },
    timeoutType: 'timeout',
    timeoutError: err => {
      expect((err as { code?: string }).code).to.equal('ECONNABORTED');
      expect((err as Error).message).to.equal(`timeout of ${CLIENT_TIMEOUT_MS}ms exceeded`);
    },
  },
  {
    name: 'got with timeout (retry off: each call is one attempt)',
    call: async () => {
      const { default: got } = await import('got');
      return async (url, { timeoutMs }) => {
        const r = await got(url, { retry: { limit: 0 }, throwHttpErrors: false, ...(timeoutMs === undefined ? {} : { timeout: { request: timeoutMs } }) });
        return { status: r.statusCode, body: r.body };
      };
    },
    timeoutType: 'timeout',
    timeoutError: err => expect((err as { code?: string }).code).to.equal('ETIMEDOUT'),
  },
  {
    // node-fetch v3 turns every signal abort into its AbortError, whatever the
    // signal's reason, and aborts the request without one: the client itself
    // sees an abort, and that is what is recorded.
    name: 'node-fetch with an abort signal',
    call: async () => {
      const { default: fetch } = await import('node-fetch');
      return async (url, { timeoutMs }) => {
        const r = await fetch(url, timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) });
        return { status: r.status, body: await r.text() };
      };
    },
    timeoutType: 'aborted',
    timeoutError: err => expect((err as Error).name).to.equal('AbortError'),
  },
];

describe('HTTP client libraries (zero config)', () => {
  let h: Harness;
  let path: HttpPath;
  let agent: Agent;
  let refused: number;

  beforeEach(async () => {
    h = harness();
    agent = await startAgent();
    refused = await refusedPort();
    path = new HttpPath(h.metrics, resolveConfig({}, {}).http!);
    path.enable();
  });
  afterEach(async () => {
    path.disable();
    await agent.close();
    await h.shutdown();
  });

  for (const c of cases) {
    it(c.name, async () => {
      const call = await c.call();
      const waited = await runPlan(call, directUrls(agent, refused), CLIENT_TIMEOUT_MS, { recorded: recordedSum(h) });
      c.timeoutError(waited.timeoutError);
      expect(await nodesOf(h)).to.deep.equal([agent.hostPort, `127.0.0.1:${refused}`].sort());

      const s = await seriesOf(h, agent.hostPort);
      expect({ success: s.success.count, error: s.error.count, errors: s.errors, active: s.active }).to.deep.equal({
        success: 5,
        error: 3,
        errors: { http_5xx: 2, [c.timeoutType]: 1 },
        active: 0,
      });
      // The slow and streamed bodies are timed to their end.
      expect(s.success.sum).to.be.at.least(0.3 + 0.2);

      const r = await seriesOf(h, `127.0.0.1:${refused}`);
      expect({ success: r.success.count, error: r.error.count, errors: r.errors, active: r.active }).to.deep.equal({
        success: 0, error: 1, errors: { connection_refused: 1 }, active: 0,
      });
    });
  }
});
