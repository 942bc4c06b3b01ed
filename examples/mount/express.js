// /metrics on an Express app (its health server, say), under the path it chooses,
// with the JSON stats view and the live status page (open /ops/status in a browser).
//   node examples/mount/express.js   then   curl localhost:3000/ops/metrics
'use strict';
const express = require('express');
const { register } = require('otel-gateway-metrics');

const otel = register({ serviceName: 'mounted-express', prometheus: { port: false } });

const app = express();
app.get('/healthz', (_req, res) => res.send('ok'));
app.all('/ops/metrics', otel.metricsHandler); // GET/HEAD served, other methods get 405
app.get('/ops/stats', otel.statsHandler);
app.get('/ops/status', otel.statusHandler); // the live status page; it polls ./stats, the route above
const server = app.listen(Number(process.env.PORT ?? 3000), () => console.log(`http://localhost:${server.address().port}/ops/metrics`));
