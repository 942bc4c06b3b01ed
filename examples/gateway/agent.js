#!/usr/bin/env node
// An agent node: answers JSON-RPC requests, either over HTTP (a long-running
// server) or over stdio (one process per request, as `kubectl exec <pod> --
// agent` would run it, or many newline-delimited requests with --serve).
//
//   node agent.js --http --port 0 --name node-a [--delay 5]
//   echo '{"jsonrpc":"2.0","id":1,"method":"ping"}' | node agent.js --stdio --name node-a
'use strict';
const http = require('node:http');
const readline = require('node:readline');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}
const has = name => process.argv.includes(`--${name}`);

const name = arg('name', 'agent');
const delayMs = Number(arg('delay', '0'));

/** The agent's work: echo the call after `delayMs`; `params.fail` makes it fail. */
async function handle(req, via) {
  if (delayMs > 0) await new Promise(r => setTimeout(r, delayMs));
  if (req && req.params && req.params.fail) {
    return { jsonrpc: '2.0', id: req.id ?? null, error: { code: -32000, message: `${name} failed on purpose` } };
  }
  return { jsonrpc: '2.0', id: req?.id ?? null, result: { node: name, via, method: req?.method ?? null } };
}

if (has('http')) {
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', d => (body += d));
    req.on('end', async () => {
      let rpc;
      try {
        rpc = JSON.parse(body || '{}');
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad json"}');
        return;
      }
      const out = await handle(rpc, 'http');
      const status = out.error ? 500 : 200;
      const text = JSON.stringify(out);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(Number(arg('port', '0')), '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ agent: name, port: server.address().port })}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else {
  // stdio: one request per line; without --serve, exit after the first answer.
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', async line => {
    let rpc;
    try {
      rpc = JSON.parse(line);
    } catch {
      process.stdout.write('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}\n');
      if (!has('serve')) process.exit(2);
      return;
    }
    const out = await handle(rpc, 'exec');
    process.stdout.write(`${JSON.stringify(out)}\n`);
    if (!has('serve')) process.exit(out.error ? 1 : 0);
  });
}
