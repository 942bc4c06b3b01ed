#!/usr/bin/env node
// Child process for bench/throughput.js part B: an open-loop load generator.
// Sends JSON-RPC POSTs at a fixed rate on a fixed schedule, whatever the
// gateway is doing, and times each request from the moment it was *due*, so a
// gateway stall counts for every request that should have been sent during it
// (no coordinated omission: closed-loop tools such as autocannon stop sending
// while their connections wait, and autocannon's overallRate sends each
// second's requests in a burst). Raw keep-alive sockets (a pool of up to
// --sockets, one request at a time each; a due request waits for a free one) and
// a pre-built request, so the generator's own latency floor stays low (Node's
// http client added several ms at p90 on this VM). Prints one JSON line.
//
//   node bench/lib/paced.js --url http://127.0.0.1:8080/rpc --rate 1000 --duration 6 [--node node-a] [--sockets 64]
'use strict';
const net = require('node:net');
const { arg } = require('./common');
const { quantile } = require('./stats');

const CRLF2 = Buffer.from('\r\n\r\n');

async function main() {
  const url = new URL(arg('url'));
  const rate = Number(arg('rate', '1000'));
  const duration = Number(arg('duration', '6'));
  const node = arg('node', 'node-a');
  const maxSockets = Number(arg('sockets', '64'));
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { node } });
  const request = Buffer.from(`POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`);
  const latencies = [];
  let errors = 0;
  let non2xx = 0;
  let outstanding = 0;
  const queue = [];
  const idle = [];
  let open = 0;
  const cpu0 = process.cpuUsage();

  function connect() {
    open++;
    const s = net.connect({ host: url.hostname, port: Number(url.port) });
    s.setNoDelay(true);
    s.due = undefined;
    s.buf = Buffer.alloc(0);
    s.on('data', d => {
      s.buf = s.buf.length === 0 ? d : Buffer.concat([s.buf, d]);
      const end = s.buf.indexOf(CRLF2);
      if (end === -1) return;
      const head = s.buf.toString('latin1', 0, end);
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const total = end + 4 + (m ? Number(m[1]) : 0);
      if (s.buf.length < total) return;
      s.buf = s.buf.subarray(total);
      const status = Number(head.slice(9, 12));
      if (status === 200) latencies.push(performance.now() - s.due);
      else non2xx++;
      outstanding--;
      s.due = undefined;
      next(s);
    });
    s.on('error', () => {});
    s.on('close', () => {
      open--;
      if (s.due !== undefined) {
        errors++;
        outstanding--;
      }
      const i = idle.indexOf(s);
      if (i !== -1) idle.splice(i, 1);
    });
    return s;
  }

  function next(s) {
    if (queue.length > 0) {
      s.due = queue.shift();
      s.write(request);
    } else {
      idle.push(s);
    }
  }

  function send(due) {
    outstanding++;
    const s = idle.pop() ?? (open < maxSockets ? connect() : undefined);
    if (s === undefined) {
      queue.push(due);
      return;
    }
    s.due = due;
    s.write(request);
  }

  const interval = 1000 / rate;
  const start = performance.now() + 20;
  const end = start + duration * 1000;
  let nextDue = start;
  let sent = 0;
  await new Promise(resolve => {
    const tick = () => {
      const now = performance.now();
      while (nextDue <= now && nextDue < end) {
        send(nextDue);
        sent++;
        nextDue += interval;
      }
      if (nextDue >= end) resolve();
      else setTimeout(tick, Math.max(0, Math.min(1, nextDue - performance.now())));
    };
    setTimeout(tick, 20);
  });
  const deadline = performance.now() + 30_000;
  while (outstanding > 0 && performance.now() < deadline) await new Promise(r => setTimeout(r, 5));
  const cpu = process.cpuUsage(cpu0);
  const lat = Float64Array.from(latencies).sort();
  process.stdout.write(`${JSON.stringify({
    requests: lat.length,
    sent,
    durationS: duration,
    rate,
    rps: lat.length / duration,
    latencyMs: { p50: quantile(lat, 0.5), p90: quantile(lat, 0.9), p99: quantile(lat, 0.99), p999: quantile(lat, 0.999), max: lat[lat.length - 1], mean: lat.reduce((a, b) => a + b, 0) / lat.length },
    errors,
    timeouts: outstanding,
    non2xx,
    loadgenCpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, sent),
  })}\n`, () => process.exit(0));
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
