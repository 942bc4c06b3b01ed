'use strict';
// The client side of the MCP stdio benchmarks (bench/profile/mcp-stdio*.js), the
// same in every variant: Buffer chunks split on '\n', one concat per line (the
// MCP SDK's ReadBuffer concatenates per chunk, whose quadratic copying of a
// 1 MB line would drown the differences measured), one tools/call at a time.

/** `call(bytes = 0)`: one `echo` tools/call to the child, resolved when its answer line arrives. */
function stdioCaller(child) {
  let parts = [];
  let waiting;
  child.stdout.on('data', chunk => {
    const nl = chunk.indexOf(10);
    if (nl === -1) {
      parts.push(chunk);
      return;
    }
    parts.push(chunk.subarray(0, nl));
    const line = Buffer.concat(parts);
    parts = [chunk.subarray(nl + 1)];
    if (line.length === 0) return;
    const w = waiting;
    waiting = undefined;
    w();
  });
  let id = 0;
  return (bytes = 0) => new Promise(resolve => {
    waiting = resolve;
    child.stdin.write(JSON.stringify({ method: 'tools/call', params: { name: 'echo', arguments: { bytes } }, jsonrpc: '2.0', id: ++id }) + '\n');
  });
}

/**
 * Process CPU per call of each peer (`{ name: { call } }`): 500 warm-up calls
 * each, then `blocks` rounds in rotated order of `block` calls per peer.
 * Returns one row per round, `{ name: µs per call }`.
 */
async function cpuPerCallBlocks(peers, blocks, block) {
  const { rotate } = require('./stats');
  const names = Object.keys(peers);
  for (const n of names) for (let i = 0; i < 500; i++) await peers[n].call();
  const rows = [];
  for (let b = 0; b < blocks; b++) {
    const row = {};
    for (const n of rotate(names, b)) {
      const { call } = peers[n];
      const c0 = process.cpuUsage();
      for (let i = 0; i < block; i++) await call();
      const cpu = process.cpuUsage(c0);
      row[n] = (cpu.user + cpu.system) / block;
    }
    rows.push(row);
  }
  return rows;
}

module.exports = { stdioCaller, cpuPerCallBlocks };
