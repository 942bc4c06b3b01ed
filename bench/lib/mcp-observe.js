'use strict';
// The MCP stdio observation of one child, attached by hand (without the exec
// path's spawn hook), for a build of either layout: protocol readers fed by
// the exec path's feedStdio (dist/protocols/mcp.js), or the older
// self-attaching StdioObserver (dist/paths/mcp.js).
const fs = require('node:fs');
const path = require('node:path');

function mcpModule(dist) {
  const now = path.join(dist, 'protocols', 'mcp.js');
  return require(fs.existsSync(now) ? now : path.join(dist, 'paths', 'mcp.js'));
}

/** An MCP observation of `child` on `series` (already started); `change(reader, metrics)` may alter it first. */
function observeStdio(dist, metrics, series, child, change) {
  const mcp = mcpModule(dist);
  const tracker = new mcp.McpTracker(metrics, 60_000);
  if (mcp.McpStdioReader !== undefined) {
    const { feedStdio } = require(path.join(dist, 'paths', 'exec.js'));
    let owned = false;
    const reader = new mcp.McpStdioReader(tracker, { series, own: () => { if (!owned) { owned = true; metrics.autoDrop(series); } } });
    if (change !== undefined) change(reader, metrics);
    feedStdio(child, [reader], { warn() {} });
    return reader;
  }
  const o = new mcp.StdioObserver(tracker, series.nodeEntry.name, () => metrics.autoDrop(series));
  if (change !== undefined) change(o, metrics);
  o.attach(child);
  return o;
}

/** The MCP protocol list (or tracker, for an older build) an ExecPath/HttpPath of `dist` takes. */
function mcpArg(dist, metrics) {
  const mcp = mcpModule(dist);
  const tracker = new mcp.McpTracker(metrics, 60_000);
  return mcp.McpProtocol !== undefined ? [new mcp.McpProtocol(tracker)] : tracker;
}

module.exports = { observeStdio, mcpArg, mcpModule };
