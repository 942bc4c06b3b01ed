/**
 * register() and the exec path's modes: zero config (the default), nodeFor,
 * off; and the bounds zero config runs under (maxNodes, nodeIdleTtl). Real
 * child processes, read back through a real scrape of the endpoint.
 */
import { expect } from 'chai';
import * as cp from 'node:child_process';
import { resolve } from 'node:path';
import { DiagLogLevel } from '@opentelemetry/api';
import type { GatewayOtel } from '../lib';
import { captureDiag, type Captured } from './helpers/diag';
import { find, scrape } from './helpers/prom';
import { useRegistrations } from './helpers/registration';
import { holdLive } from './helpers/metrics';

const NODE = process.execPath;
const AGENT = resolve(__dirname, 'fixtures', 'exec-agent.cjs');

function run(file: string, args: string[] = []): Promise<void> {
  return new Promise(res => cp.execFile(file, args, () => res()));
}

/** `node/status count` of every duration series on the endpoint. */
async function counts(otel: GatewayOtel): Promise<string[]> {
  const { parsed } = await scrape(otel.prometheusUrl!);
  return find(parsed, 'gateway_request_duration_seconds_count')
    .map(s => `${s.labels.node}/${s.labels.transport}/${s.labels.status} ${s.value}`)
    .sort();
}

describe('exec path modes under register()', function () {
  this.timeout(20_000);
  const reg = useRegistrations();
  let diag: Captured;
  const originalExecFile = cp.execFile;
  beforeEach(() => (diag = captureDiag(DiagLogLevel.INFO)));
  /** The startup lines about the exec path (diag prefixes our namespace). */
  const execLines = () => diag.info.filter(l => l.startsWith('otel-gateway-metrics exec path:'));
  afterEach(() => diag.restore());

  it('with no exec option, every child process is recorded on its zero-config node, and an INFO line says so', async () => {
    const otel = await reg.ready();
    expect(execLines()).to.deep.equal([
      'otel-gateway-metrics exec path: zero-config (every child process is recorded; node named after its command: pod, script, package or image; exec: false or GATEWAY_METRICS_EXEC=false turns it off)',
    ]);
    await run(NODE, [AGENT, 'ok']);
    await run(NODE, [AGENT, 'exit', '1']);
    await run('/bin/sh', ['-c', `"${NODE}" "${AGENT}" ok`]);
    await run('true');
    expect(await counts(otel)).to.deep.equal([
      'exec-agent.cjs/exec/error 1',
      'exec-agent.cjs/exec/success 2',
      'true/exec/success 1',
    ]);
  });

  it('exec: false turns it off: nothing patched, nothing recorded', async () => {
    const otel = await reg.ready({ exec: false });
    expect(execLines()).to.deep.equal(['otel-gateway-metrics exec path: off']);
    expect(cp.execFile).to.equal(originalExecFile);
    await run(NODE, [AGENT, 'ok']);
    expect(await counts(otel)).to.deep.equal([]);
  });

  it('GATEWAY_METRICS_EXEC=false turns it off too', async () => {
    reg.env({ GATEWAY_METRICS_EXEC: 'false' });
    const otel = await reg.ready();
    expect(execLines()).to.deep.equal(['otel-gateway-metrics exec path: off']);
    await run(NODE, [AGENT, 'ok']);
    expect(await counts(otel)).to.deep.equal([]);
  });

  it('nodeFor gets the zero-config node as its third argument, refines it, and excludes with undefined/null', async () => {
    const seen: [string, readonly string[], string][] = [];
    const otel = await reg.ready({
      exec: {
        nodeFor: (file, args, defaultNode) => {
          seen.push([file, args, defaultNode]);
          if (defaultNode === 'true') return null;
          if (defaultNode === 'false') return undefined;
          return `agents/${defaultNode}`;
        },
      },
    });
    expect(execLines()).to.deep.equal(['otel-gateway-metrics exec path: nodeFor (child processes it maps are recorded, on the node it returns)']);
    await run(NODE, [AGENT, 'ok']);
    await run('true');
    await run('false');
    expect(seen).to.deep.equal([
      [NODE, [AGENT, 'ok'], 'exec-agent.cjs'],
      ['true', [], 'true'],
      ['false', [], 'false'],
    ]);
    expect(await counts(otel)).to.deep.equal(['agents/exec-agent.cjs/exec/success 1']);
  });

  it('maxNodes bounds the nodes zero config creates: beyond it, calls go to _other', async () => {
    const otel = await reg.ready({ maxNodes: 2 });
    await run(NODE, [AGENT, 'ok']);
    await run('true');
    await run('echo', ['x']);
    await run('env', ['true']); // zero-config name "true": an existing node, not a new one
    expect(await counts(otel)).to.deep.equal([
      '_other/exec/success 1',
      'exec-agent.cjs/exec/success 1',
      'true/exec/success 2',
    ]);
    expect(diag.warn.filter(w => w.includes('more than maxNodes=2 live nodes; "echo"'))).to.have.length(1);
  });

  it('idle expiry frees room: a node idle past nodeIdleTtl is forgotten and a new one takes its place', async () => {
    const otel = await reg.ready({ maxNodes: 1, nodeIdleTtl: 200 });
    // A call in flight keeps the node asserted live however slow the scrape; the wait past the TTL is a lower bound.
    let hold = await holdLive(otel.metrics, 'true');
    await run('true');
    expect(await counts(otel)).to.deep.equal(['true/exec/success 1']);
    hold();
    await new Promise(r => setTimeout(r, 400));
    hold = await holdLive(otel.metrics, 'echo');
    await run('echo', ['x']);
    expect(await counts(otel)).to.deep.equal(['echo/exec/success 1']);
    hold();
    expect(otel.metrics.isLiveNode('true')).to.equal(false);
    expect(diag.warn.filter(w => w.includes('maxNodes'))).to.deep.equal([]);
  });
});
