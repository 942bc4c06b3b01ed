// /metrics and /stats on the app's own node:http server; no extra port.
//   node examples/mount/http-server.js   then   curl localhost:3000/internal/metrics
'use strict';
const http = require('node:http');
const { register } = require('otel-gateway-metrics');

const otel = register({ serviceName: 'mounted-http', prometheus: { port: false } });

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://localhost');
  if (pathname === '/internal/metrics') return otel.metricsHandler(req, res);
  if (pathname === '/internal/stats') return otel.statsHandler(req, res);
  res.end('hello\n');
});
server.listen(Number(process.env.PORT ?? 3000), () => console.log(`http://localhost:${server.address().port}/internal/metrics`));
