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

module.exports = { stdioCaller };
