import { expect } from 'chai';
import { ValueType } from '@opentelemetry/api';
import { MeterProvider, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter, PrometheusSerializer as StockSerializer } from '@opentelemetry/exporter-prometheus';

import { resourceFromAttributes } from '@opentelemetry/resources';
import { createGatewayMetrics, gatewayViews } from '../lib';
import { PrometheusSerializer, formatLabels } from '../lib/export/exposition';
import { VERSION } from '../lib/core/version';
import { formatGoFloat, prometheusLabelName, prometheusMetricName, type PromType } from '../lib/export/naming';
import { parseExposition, type Sample } from './helpers/prom';

describe('naming: OTel → Prometheus (as the Collector translates)', () => {
  const cases: [string, string, PromType, boolean, string][] = [
    ['gateway.request.duration', 's', 'histogram', false, 'gateway_request_duration_seconds'],
    ['gateway.request.errors', '{error}', 'counter', true, 'gateway_request_errors_total'],
    ['gateway.requests.active', '{request}', 'gauge', false, 'gateway_requests_active'],
    ['gateway.node.up', '1', 'gauge', false, 'gateway_node_up_ratio'],
    ['gateway.node.up', '', 'gauge', false, 'gateway_node_up'],
    ['gateway.request.size', 'By', 'histogram', false, 'gateway_request_size_bytes'],
    ['gateway.health_check.duration', 's', 'histogram', false, 'gateway_health_check_duration_seconds'],
    ['mcp.gateway.request.duration', 's', 'histogram', false, 'mcp_gateway_request_duration_seconds'],
    ['process_start_time_seconds', 's', 'gauge', false, 'process_start_time_seconds'],
    ['nodejs.eventloop.time', 's', 'counter', true, 'nodejs_eventloop_time_seconds_total'],
    ['nodejs.eventloop.utilization', '1', 'gauge', false, 'nodejs_eventloop_utilization_ratio'],
    ['requests.total', '', 'counter', true, 'requests_total'],
    ['packets', '{packet}/s', 'gauge', false, 'packets_per_second'],
    // Checked against the built Collector v0.161:
    ['x.second', '1/s', 'gauge', false, 'x_second_per_second'],
    ['requests.per.second', '{req}/s', 'gauge', false, 'requests_per_second_per_second'],
    ['latency.seconds.p99', 's', 'gauge', false, 'latency_seconds_p99'],
    ['ratio.of.x', '1', 'gauge', false, 'of_x_ratio'],
    ['bytes.total.in', 'By', 'counter', true, 'bytes_in_total'],
    ['z__w..v', 'ms', 'gauge', false, 'z_w_v_milliseconds'],
    ['weird--name..x', 'ms', 'gauge', false, 'weird_name_x_milliseconds'],
    ['9lives', '', 'gauge', false, '_9lives'],
  ];
  for (const [name, unit, type, mono, want] of cases) {
    it(`${name} [${unit || 'no unit'}] ${type} → ${want}`, () => {
      expect(prometheusMetricName(name, unit, type, mono)).to.equal(want);
    });
  }

  it('sanitizes label names as the Collector does (checked against the built v0.161)', () => {
    expect(prometheusLabelName('error.type')).to.equal('error_type');
    expect(prometheusLabelName('http.response.status_code_class')).to.equal('http_response_status_code_class');
    expect(prometheusLabelName('9x')).to.equal('key_9x');
    expect(prometheusLabelName('_x')).to.equal('key_x');
    expect(prometheusLabelName('__y')).to.equal('key_y');
    expect(prometheusLabelName('a..b')).to.equal('a_b');
    expect(prometheusLabelName('c.-d')).to.equal('c_d');
    expect(prometheusLabelName('e___f')).to.equal('e_f');
    expect(prometheusLabelName('a-b')).to.equal('a_b');
  });

  it('writes le values the way Go (and so the Collector) does', () => {
    const want: [number, string][] = [
      [0.005, '0.005'], [1, '1'], [2.5, '2.5'], [60, '60'], [0.0001, '0.0001'], [0.00001, '1e-05'],
      [123456, '123456'], [1e6, '1e+06'], [1048576, '1.048576e+06'], [16777216, '1.6777216e+07'],
      [Infinity, '+Inf'], [0, '0'],
    ];
    for (const [v, s] of want) expect(formatGoFloat(v), String(v)).to.equal(s);
  });

  it('escapes label values and joins colliding keys with ";"', () => {
    expect(formatLabels({ node: 'a"b\\c\nd' })).to.equal('node="a\\"b\\\\c\\nd"');
    expect(formatLabels({ 'a.b': 'x', a_b: 'y' })).to.equal('a_b="x;y"');
    expect(formatLabels({ n: 5, t: true, arr: ['a', 1] as never })).to.equal('arr="[\\"a\\",1]",n="5",t="true"');
  });
});

describe('PrometheusSerializer', () => {
  async function collectGateway(): Promise<ResourceMetrics> {
    const reader = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ readers: [reader], views: gatewayViews(), resource: resourceFromAttributes({ 'service.name': 'svc', 'k8s.pod.name': 'p"1' }) });
    const m = createGatewayMetrics({ meterProvider: provider });
    for (let i = 0; i < 20; i++) {
      m.record({ node: `node-${i % 5}`, transport: i % 2 ? 'http' : 'exec', status: i % 3 ? 'success' : 'error', durationSeconds: i * 0.37, errorType: i % 4 ? 'timeout' : 'rate_limited', requestBytes: i * 1000 });
    }
    m.recordFallback({ node: 'node-1', from: 'http', to: 'exec' });
    m.setNodeUp('node-1', false);
    const other = provider.getMeter('other-lib', '2.0.0');
    other.createCounter('jobs.done', { unit: '{job}' }).add(3, { queue: 'q1' });
    other.createUpDownCounter('queue.depth').add(-2, { queue: 'q1' });
    other.createHistogram('job.size', { unit: 'By', valueType: ValueType.INT, advice: { explicitBucketBoundaries: [1e3, 1e6] } }).record(2e6);
    const { resourceMetrics } = await reader.collect();
    await provider.shutdown();
    return resourceMetrics;
  }

  /** Our text against the stock exporter's, sample for sample, names mapped; returns the samples compared. */
  function expectEquivalentToStock(text: string, rm: ResourceMetrics): number {
    const ours = parseExposition(text);
    const stock = parseExposition(new StockSerializer(undefined, false, undefined, false, false).serialize(rm));
    // Stock name → compliant name, computed from the descriptors, not from our output.
    const rename = new Map<string, string>();
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        const stockBase = m.descriptor.name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
        const counter = m.dataPointType === 3 && (m as { isMonotonic?: boolean }).isMonotonic === true;
        const unitSuffix = { s: '_seconds', By: '_bytes' }[m.descriptor.unit] ?? '';
        const compliant = stockBase + unitSuffix + (counter ? '_total' : '');
        const from = counter ? `${stockBase}_total` : stockBase;
        for (const suffix of ['', '_bucket', '_sum', '_count']) rename.set(from + suffix, compliant + suffix);
      }
    }
    const key = (s: Sample, name: string) => `${name}${JSON.stringify(Object.entries(s.labels).sort())}`;
    const ourSet = new Map(ours.samples.map(s => [key(s, s.name), s.value]));
    let compared = 0;
    for (const s of stock.samples) {
      if (s.name === 'target_info') continue;
      const name = rename.get(s.name);
      expect(name, `no rename for ${s.name}`).to.be.a('string');
      // The stock exporter writes le="1000000"; Go (and we) write le="1e+06".
      const labels = s.labels.le !== undefined ? { ...s.labels, le: formatGoFloat(Number(s.labels.le === '+Inf' ? Infinity : s.labels.le)) } : s.labels;
      const k = key({ ...s, labels }, name!);
      expect(ourSet.has(k), `missing ${k}`).to.equal(true);
      expect(ourSet.get(k), k).to.equal(s.value);
      compared++;
    }
    expect(compared).to.equal(ours.samples.filter(s => s.name !== 'target_info').length);
    return compared;
  }

  it('is equivalent, sample for sample, to the stock exporter under compliant names', async () => {
    const rm = await collectGateway();
    expect(expectEquivalentToStock(new PrometheusSerializer().serialize(rm), rm)).to.be.above(100);
  });

  it('writes target_info from the resource, and HELP/TYPE once per family', async () => {
    const rm = await collectGateway();
    const text = new PrometheusSerializer().serialize(rm);
    expect(text.startsWith('# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info{')).to.equal(true);
    expect(text).to.include('k8s_pod_name="p\\"1"');
    expect(text).to.include('service_name="svc"');
    for (const fam of ['gateway_request_duration_seconds', 'jobs_done_total', 'queue_depth', 'job_size_bytes']) {
      expect(text.split(`# TYPE ${fam} `).length - 1, fam).to.equal(1);
    }
    expect(text).to.include('# TYPE queue_depth gauge\n');
    expect(text).to.include('job_size_bytes_bucket{otel_scope_name="other-lib",otel_scope_version="2.0.0",le="1e+06"} 0\n');
    expect(text.endsWith('\n')).to.equal(true);
  });

  it('yields chunks of at most chunkPoints data points that add up to the whole', async () => {
    const rm = await collectGateway();
    const whole = new PrometheusSerializer().serialize(rm);
    const chunks = [...new PrometheusSerializer({ chunkPoints: 3 }).chunks(rm)];
    expect(chunks.length).to.be.above(5);
    expect(chunks.join('')).to.equal(whole);
    for (const chunk of chunks) expect(chunk.endsWith('\n'), chunk.slice(-80)).to.equal(true);
    // At most 3 data points per chunk: count the series (a histogram's _count line, or a plain sample).
    const points = (chunk: string) => chunk.split('\n').filter(l => l !== '' && !l.startsWith('#') && !l.includes('_bucket{') && !l.includes('_sum{') && !l.startsWith('target_info')).length;
    for (const chunk of chunks) expect(points(chunk)).to.be.at.most(3);
  });

  it('encodes byteChunks() exactly as UTF-8, ASCII chunks and chunks with other characters alike', async () => {
    const reader = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ readers: [reader], views: gatewayViews(), resource: resourceFromAttributes({ 'service.name': 'svc' }) });
    const m = createGatewayMetrics({ meterProvider: provider });
    // Non-ASCII only in the middle series and in one help text: the chunks
    // around them stay ASCII, the ones holding them are not.
    const nodes = ['node-a', 'node-b', 'nœud-é', 'ノード', 'node-🙂', 'node-c', 'node-d'];
    for (const node of nodes) for (let i = 0; i < 3; i++) m.record({ node, transport: 'http', status: 'success', durationSeconds: 0.1 * i });
    provider.getMeter('other').createCounter('jobs', { description: 'Jobs — done' }).add(1, { queue: 'q' });
    const { resourceMetrics: rm } = await reader.collect();
    await provider.shutdown();
    const scope = `otel_scope_name="otel-gateway-metrics",otel_scope_version="${VERSION}"`;
    for (const chunkPoints of [1, 2, 200]) {
      const serializer = new PrometheusSerializer({ chunkPoints });
      const bytes = Buffer.concat([...serializer.byteChunks(rm)]);
      const text = bytes.toString('utf8');
      // Valid UTF-8 throughout (a bad sequence would decode to U+FFFD and not round-trip).
      expect(Buffer.from(text, 'utf8').equals(bytes), `chunkPoints ${chunkPoints}`).to.equal(true);
      // Per node: 14 buckets (13 default boundaries and +Inf), _sum, _count and its in-flight gauge; then the jobs counter.
      expect(expectEquivalentToStock(text, rm)).to.equal(nodes.length * 17 + 1);
      // Three calls of 0, 0.1 and 0.2 s per node: the bucket lines of one non-ASCII series, written out by hand.
      for (const node of ['ノード', 'node-🙂']) {
        const labels = `node="${node}",status="success",transport="http",${scope}`;
        expect(text).to.include(`gateway_request_duration_seconds_bucket{${labels},le="0.005"} 1\n` +
          `gateway_request_duration_seconds_bucket{${labels},le="0.01"} 1\n`);
        expect(text).to.include(`gateway_request_duration_seconds_bucket{${labels},le="0.1"} 2\n`);
        expect(text).to.include(`gateway_request_duration_seconds_bucket{${labels},le="+Inf"} 3\n` +
          `gateway_request_duration_seconds_sum{${labels}} 0.30000000000000004\n` +
          `gateway_request_duration_seconds_count{${labels}} 3\n`);
      }
      expect(text).to.include('# HELP jobs_total Jobs — done\n');
    }
  });

  it('writes counts that are not small integers as JavaScript numbers', () => {
    const scope = { name: 's' };
    const descriptor = { name: 'big', description: '', unit: '', valueType: ValueType.DOUBLE, type: 'HISTOGRAM' } as never;
    const rm = {
      resource: resourceFromAttributes({}),
      scopeMetrics: [{ scope, metrics: [{
        descriptor, dataPointType: 0, aggregationTemporality: 1,
        dataPoints: [{ attributes: { k: 'v' }, startTime: [0, 0], endTime: [1, 0], value: {
          buckets: { boundaries: [1], counts: [2 ** 53, 3] }, count: 2 ** 53 + 3, sum: 1e300,
        } }],
      }] }],
    } as unknown as ResourceMetrics;
    const text = new PrometheusSerializer({ targetInfo: false }).serialize(rm);
    expect(text).to.equal('# HELP big big\n# TYPE big histogram\n' +
      'big_bucket{k="v",otel_scope_name="s",le="1"} 9007199254740992\n' +
      'big_bucket{k="v",otel_scope_name="s",le="+Inf"} 9007199254740996\n' +
      'big_sum{k="v",otel_scope_name="s"} 1e+300\n' +
      'big_count{k="v",otel_scope_name="s"} 9007199254740996\n');
  });

  it('has room for long le values and long counts in every chunk (each line whole, nothing cut)', () => {
    // Boundaries whose Go spelling is long, counts near 2^53: more bytes per bucket line than the usual case.
    const boundaries = [1.2345678901234566e-7, 0.30000000000000004, 123456.78901234567];
    const big = 2 ** 52 + 1;
    const points = Array.from({ length: 40 }, (_, i) => ({
      attributes: { node: `node-${i}` }, startTime: [0, 0], endTime: [1, 0],
      value: { buckets: { boundaries, counts: [big, big, big, big] }, count: 4 * big, sum: 1.2345678901234568e-300 },
    }));
    const rm = {
      resource: resourceFromAttributes({}),
      scopeMetrics: [{ scope: { name: 's' }, metrics: [{
        descriptor: { name: 'long', description: '', unit: '', valueType: ValueType.DOUBLE, type: 'HISTOGRAM' },
        dataPointType: 0, aggregationTemporality: 1, dataPoints: points,
      }] }],
    } as unknown as ResourceMetrics;
    for (const chunkPoints of [1, 7, 200]) {
      const chunks = [...new PrometheusSerializer({ targetInfo: false, chunkPoints }).byteChunks(rm)].map(b => b.toString('utf8'));
      for (const chunk of chunks) expect(chunk.endsWith('\n')).to.equal(true);
      const text = chunks.join('');
      const labels = 'node="node-39",otel_scope_name="s"';
      expect(text).to.include(`long_bucket{${labels},le="1.2345678901234566e-07"} 4503599627370497\n` +
        `long_bucket{${labels},le="0.30000000000000004"} 9007199254740994\n` +
        `long_bucket{${labels},le="123456.78901234567"} 13510798882111492\n` +
        `long_bucket{${labels},le="+Inf"} 18014398509481988\n` +
        `long_sum{${labels}} 1.2345678901234568e-300\n` +
        `long_count{${labels}} 18014398509481988\n`);
      expect(text.split('\n').filter(l => l.startsWith('long_')).length).to.equal(40 * 6);
    }
    // One series bigger than a chunk buffer gets a buffer of its own, sized from its lines: 12,000 long le values.
    const many = Array.from({ length: 12_000 }, (_, i) => 1 + (i + 1) * 1.1e-13);
    const one = { ...points[0]!, value: { buckets: { boundaries: many, counts: Array.from({ length: 12_001 }, () => big) }, count: 12_001 * big, sum: 1 } };
    const huge = { ...rm, scopeMetrics: [{ ...rm.scopeMetrics[0]!, metrics: [{ ...rm.scopeMetrics[0]!.metrics[0]!, dataPoints: [one] }] }] } as unknown as ResourceMetrics;
    const lines = new PrometheusSerializer({ targetInfo: false }).serialize(huge).split('\n').filter(l => l.startsWith('long_'));
    expect(lines.length).to.equal(12_003);
    const le = (i: number) => String(1 + (i + 1) * 1.1e-13);
    expect(lines[11_999]).to.equal(`long_bucket{node="node-0",otel_scope_name="s",le="${le(11_999)}"} ${12_000 * big}`);
    expect(lines[12_000]).to.equal(`long_bucket{node="node-0",otel_scope_name="s",le="+Inf"} ${12_001 * big}`);
    for (const line of lines.slice(0, 12_000)) expect(line).to.match(/^long_bucket\{node="node-0",otel_scope_name="s",le="1\.\d+"\} \d+$/);
  });

  it('drops data points the keep() filter rejects', async () => {
    const rm = await collectGateway();
    const text = new PrometheusSerializer({ keep: (_scope, attrs) => attrs.node !== 'node-1' }).serialize(rm);
    expect(text).to.not.include('node="node-1"');
    expect(text).to.include('node="node-2"');
  });

  it('can leave out scope labels and target_info', async () => {
    const rm = await collectGateway();
    const text = new PrometheusSerializer({ scopeLabels: false, targetInfo: false }).serialize(rm);
    expect(text).to.not.include('otel_scope_name');
    expect(text).to.not.include('target_info');
  });
});
