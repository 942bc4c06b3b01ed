// /metrics on a Fastify app: the handlers take Fastify's (request, reply) too.
//   node examples/mount/fastify.js   then   curl localhost:3000/metrics
'use strict';
const Fastify = require('fastify');
const { register } = require('otel-gateway-metrics');

const otel = register({ serviceName: 'mounted-fastify', prometheus: { port: false } });

const app = Fastify();
app.get('/metrics', (request, reply) => otel.metricsHandler(request, reply));
app.get('/stats', (request, reply) => otel.statsHandler(request, reply));
app.listen({ port: Number(process.env.PORT ?? 3000) }).then(address => console.log(`${address}/metrics`));
