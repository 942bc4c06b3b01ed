#!/usr/bin/env node
// A fast local HTTP agent for bench/throughput.js: answers every POST with the
// constant JSON-RPC result examples/gateway/agent.js --delay 0 would give, over
// plain net sockets (keep-alive; requests must carry Content-Length, as the
// gateway's do). The example agent, on node:http with a JSON parse per call,
// cost ~50 µs of CPU per request, which together with autocannon (~90 µs) put
// core 1 at its limit before the gateway on core 0; this one costs a few µs.
//
//   node bench/lib/fast-agent.js --port 0 --name node-a
'use strict';
const net = require('node:net');
const { arg } = require('./common');

const name = arg('name', 'agent');
const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { node: name, via: 'http', method: 'tools/call' } });
const response = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=30\r\n\r\n${body}`);
const CRLF2 = Buffer.from('\r\n\r\n');

const server = net.createServer(socket => {
  socket.setNoDelay(true);
  let buf = Buffer.alloc(0);
  socket.on('data', d => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    let out = 0;
    for (;;) {
      const end = buf.indexOf(CRLF2);
      if (end === -1) break;
      const head = buf.toString('latin1', 0, end);
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const total = end + 4 + (m ? Number(m[1]) : 0);
      if (buf.length < total) break;
      buf = buf.subarray(total);
      out++;
    }
    if (out === 1) socket.write(response);
    else if (out > 1) socket.write(Buffer.concat(Array(out).fill(response)));
  });
  socket.on('error', () => socket.destroy());
});
server.listen(Number(arg('port', '0')), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ agent: name, port: server.address().port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
