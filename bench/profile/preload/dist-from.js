// Attribution experiment: load `otel-gateway-metrics` from another build's
// dist/ (env BENCH_DIST, e.g. the previous commit's), so a before/after
// comparison runs interleaved in one process tree instead of two runs apart.
'use strict';
const Module = require('node:module');
const path = require('node:path');

const dist = process.env.BENCH_DIST;
if (!dist) throw new Error('dist-from preload: set BENCH_DIST to a built dist/ directory');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'otel-gateway-metrics') return path.join(dist, 'index.js');
  return resolve.call(this, request, ...rest);
};
