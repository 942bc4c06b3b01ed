import { expect } from 'chai';
import { startNode } from './helpers/child';
import { one, scrape } from './helpers/prom';

describe('examples/mount (each runs as a real process and serves /metrics on its own port)', function () {
  this.timeout(30_000);
  for (const [file, path] of [['http-server.js', '/internal/metrics'], ['express.js', '/ops/metrics'], ['fastify.js', '/metrics']] as const) {
    it(`examples/mount/${file}`, async () => {
      const app = startNode([`examples/mount/${file}`], { PORT: '0', GATEWAY_METRICS_RUNTIME_METRICS: 'false' });
      try {
        const url = (await app.line(/^http:\/\//)).trim().replace('localhost', '127.0.0.1').replace('[::1]', '127.0.0.1');
        expect(new URL(url).pathname).to.equal(path);
        const { status, headers, parsed } = await scrape(url);
        expect(status).to.equal(200);
        expect(headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
        expect(one(parsed, 'target_info').labels.service_name).to.match(/^mounted-/);
        expect(parsed.types.get('process_start_time_seconds')).to.equal('gauge');
        if (file === 'express.js') {
          const page = await fetch(url.replace('/ops/metrics', '/ops/status'));
          expect(page.status).to.equal(200);
          expect(page.headers.get('content-type')).to.equal('text/html; charset=utf-8');
          expect(await page.text()).to.include('"statsUrl":"stats"');
          expect((await fetch(url.replace('/ops/metrics', '/ops/stats'))).status).to.equal(200);
        }
      } finally {
        app.child.kill('SIGTERM');
        await app.exited;
      }
    });
  }
});
