/**
 * Content negotiation on /metrics (lib/export/negotiate.ts, endpoint.ts):
 * the Accept headers Prometheus sends, q-values, and each format served with
 * its own content type, gzip and collection.
 */
import { expect } from 'chai';
import { gunzipSync } from 'node:zlib';
import * as http from 'node:http';
import { negotiate } from '../lib/export/negotiate';
import { useRegistrations } from './helpers/registration';
import { decodeFamilies, PROTOBUF_ACCEPT } from './helpers/promproto';
import { tools } from './helpers/tools';

/** Prometheus 2.42's Accept headers, with and without --enable-feature=native-histograms. */
const PROM_242_NATIVE = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const PROM_242 = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
/** Prometheus 3.x's default scrape_protocols (OpenMetrics first, with an escaping parameter). */
const PROM_3 = 'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1';

const TEXT = 'text/plain; version=0.0.4; charset=utf-8';
const OM = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const PB = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

function get(url: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.request(url, { method, headers }, res => {
      const chunks: Buffer[] = [];
      res.on('data', c => chunks.push(c)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject).end();
  });
}

describe('content negotiation on /metrics', function () {
  this.timeout(30_000);

  describe('negotiate()', () => {
    it('follows Prometheus: protobuf with native histograms on, OpenMetrics otherwise (2.42 and 3.x)', () => {
      expect(negotiate(PROM_242_NATIVE)).to.equal('protobuf');
      expect(negotiate(PROM_242)).to.equal('openmetrics');
      expect(negotiate(PROM_3)).to.equal('openmetrics');
    });

    it('the text format without a header, for */*, for what we do not serve, and when everything is refused', () => {
      expect(negotiate(undefined)).to.equal('text');
      expect(negotiate('')).to.equal('text');
      expect(negotiate('*/*')).to.equal('text');
      expect(negotiate('application/json')).to.equal('text');
      expect(negotiate('application/openmetrics-text;q=0, text/plain;q=0')).to.equal('text');
    });

    it('reads q-values, whatever the order; a tie goes to the range listed first', () => {
      expect(negotiate('text/plain;version=0.0.4;q=0.9, application/openmetrics-text;version=1.0.0;q=0.3')).to.equal('text');
      expect(negotiate('text/plain;q=0.2, application/openmetrics-text; version="1.0.0"; q=0.9')).to.equal('openmetrics');
      expect(negotiate('application/openmetrics-text, text/plain')).to.equal('openmetrics');
      expect(negotiate('text/plain, application/openmetrics-text')).to.equal('text');
      expect(negotiate(`${PROM_242_NATIVE.replace('encoding=delimited', 'encoding=delimited;q=0.1')}`)).to.equal('openmetrics');
    });

    it('protobuf only in the delimited binary encoding of MetricFamily; OpenMetrics and text only in versions we write', () => {
      expect(negotiate('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text')).to.equal('text');
      expect(negotiate('application/vnd.google.protobuf;proto=other.Message;encoding=delimited')).to.equal('text');
      expect(negotiate('application/openmetrics-text;version=2.0.0')).to.equal('text');
      expect(negotiate('application/openmetrics-text;version=0.0.1')).to.equal('openmetrics');
      expect(negotiate(['application/openmetrics-text;q=0.1', 'text/plain;q=0.05'])).to.equal('openmetrics');
    });
  });

  describe('the endpoint', () => {
    const reg = useRegistrations();
    before(() => tools());

    it('answers each format with its content type (GET and HEAD), Vary: Accept', async () => {
      const otel = await reg.ready({ histogram: 'native' });
      otel.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: 0.05 });
      for (const [accept, type] of [[PROM_242_NATIVE, PB], [PROM_242, OM], [PROM_3, OM], ['*/*', TEXT]] as const) {
        for (const method of ['GET', 'HEAD']) {
          const r = await get(otel.prometheusUrl!, { accept }, method);
          expect(r.status).to.equal(200);
          expect(r.headers['content-type'], `${method} ${accept}`).to.equal(type);
          expect(r.headers.vary).to.equal('Accept, Accept-Encoding');
        }
      }
      const om = (await get(otel.prometheusUrl!, { accept: PROM_242 })).body.toString();
      expect(om.endsWith('# EOF\n')).to.equal(true);
      const text = (await get(otel.prometheusUrl!, {})).body.toString();
      expect(text).to.not.include('# EOF');
      const families = decodeFamilies((await get(otel.prometheusUrl!, { accept: PROTOBUF_ACCEPT })).body);
      expect(families.map(f => f.name)).to.include('gateway_request_duration_seconds');
    });

    it('gzips every format, with the bytes of that format', async () => {
      const otel = await reg.ready({ histogram: 'native' });
      otel.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: 0.05 });
      for (const accept of [PROTOBUF_ACCEPT, PROM_242, 'text/plain']) {
        const plain = await get(otel.prometheusUrl!, { accept });
        const zipped = await get(otel.prometheusUrl!, { accept, 'accept-encoding': 'gzip' });
        expect(zipped.headers['content-encoding']).to.equal('gzip');
        expect(zipped.headers['content-type']).to.equal(plain.headers['content-type']);
        expect(gunzipSync(zipped.body).equals(plain.body), accept).to.equal(true);
      }
    });

    it('concurrent scrapes in different formats each get their own', async () => {
      const otel = await reg.ready({ histogram: 'native' });
      otel.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: 0.05 });
      const accepts = [PROM_242_NATIVE, PROM_242, '*/*', PROM_242_NATIVE, PROM_242, '*/*'];
      const results = await Promise.all(accepts.map(accept => get(otel.prometheusUrl!, { accept, 'accept-encoding': 'gzip' })));
      expect(results.map(r => r.headers['content-type'])).to.deep.equal([PB, OM, TEXT, PB, OM, TEXT]);
      expect(gunzipSync(results[1]!.body).toString().endsWith('# EOF\n')).to.equal(true);
      expect(decodeFamilies(gunzipSync(results[0]!.body)).some(f => f.name === 'gateway_request_duration_seconds')).to.equal(true);
      expect(gunzipSync(results[2]!.body).toString()).to.include('gateway_request_duration_seconds_bucket{');
    });
  });
});
