#!/usr/bin/env node
// An MCP agent node: a real MCP server (@modelcontextprotocol/sdk McpServer)
// with three tools, served over Streamable HTTP (POST/GET/DELETE /mcp, one
// session per client, as a pod's `:8080/mcp`) or over stdio (one persistent
// process serving many calls, as `kubectl exec -i <pod> -- mcp-agent --stdio`
// runs it).
//
//   node mcp-agent.js --http --port 0 --name node-a [--delay 5] [--slow summarize=1200]
//   node mcp-agent.js --stdio --name node-d [--delay 5]
//
// Tools: search {query}, fetch_doc {id}, summarize {text}. Each takes --delay
// ms; --slow tool=ms gives one tool its own delay (the demo's slow tool).
// Every tool takes `fail: true`, and then answers a result with isError: true
// (a tool failure, not a JSON-RPC error). GET /healthz answers 200 (the
// example gateway's health checks).
'use strict';
const http = require('node:http');
const { randomUUID } = require('node:crypto');
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');
const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');
const { z } = require('zod');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}
const has = name => process.argv.includes(`--${name}`);

const name = arg('name', 'agent');
const delayMs = Number(arg('delay', '0'));
/** --slow summarize=1200,search=300 → { summarize: 1200, search: 300 } */
const slow = Object.fromEntries(String(arg('slow', '')).split(',').filter(Boolean).map(kv => {
  const [tool, ms] = kv.split('=');
  return [tool, Number(ms)];
}));
const via = has('http') ? 'http' : 'exec';

const TOOLS = {
  search: {
    description: 'Search the node\'s documents; returns matching ids.',
    inputSchema: { query: z.string(), fail: z.boolean().optional() },
    run: ({ query }) => `${name}: 3 documents match "${query}": doc-1, doc-2, doc-3`,
  },
  fetch_doc: {
    description: 'Fetch one document by id.',
    inputSchema: { id: z.string(), fail: z.boolean().optional() },
    run: ({ id }) => `${name}: document ${id}: lorem ipsum dolor sit amet`,
  },
  summarize: {
    description: 'Summarize a text (the slow tool on the node given --slow summarize=ms).',
    inputSchema: { text: z.string(), fail: z.boolean().optional() },
    run: ({ text }) => `${name}: summary of ${text.length} characters`,
  },
};

let inFlight = 0; // tool calls running
let stdinEnded = false; // stdio: exit once the calls running at the end of stdin have answered

/** One McpServer per session (an McpServer serves one transport). */
function newServer() {
  const server = new McpServer({ name: `example-agent-${name}`, version: '1.0.0' });
  for (const [tool, spec] of Object.entries(TOOLS)) {
    server.registerTool(tool, { description: spec.description, inputSchema: spec.inputSchema }, async args => {
      inFlight++;
      try {
        const ms = slow[tool] ?? delayMs;
        if (ms > 0) await new Promise(r => setTimeout(r, ms));
        if (args.fail === true) return { isError: true, content: [{ type: 'text', text: `${name} (${via}): ${tool} failed on purpose` }] };
        return { content: [{ type: 'text', text: `${spec.run(args)} (${via})` }] };
      } finally {
        inFlight--;
        if (inFlight === 0 && stdinEnded) setImmediate(() => process.exit(0));
      }
    });
  }
  return server;
}

if (has('http')) {
  const sessions = new Map(); // mcp-session-id → transport
  const httpServer = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://agent');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (url.pathname !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (transport === undefined) {
      if (req.method !== 'POST' || id !== undefined) {
        // An unknown session (this agent restarted, or the session was deleted): 404 tells the client to start over.
        res.writeHead(id === undefined ? 400 : 404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: id === undefined ? 'no session' : 'unknown session' } }));
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: sid => sessions.set(sid, transport),
      });
      transport.onclose = () => {
        if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
      };
      await newServer().connect(transport);
    }
    await transport.handleRequest(req, res);
  });
  httpServer.keepAliveTimeout = 30_000;
  httpServer.listen(Number(arg('port', '0')), '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ agent: name, port: httpServer.address().port, mcp: '/mcp' })}\n`);
  });
  process.on('SIGTERM', async () => {
    for (const t of sessions.values()) await t.close().catch(() => {});
    httpServer.close(() => process.exit(0));
    httpServer.closeAllConnections();
  });
} else {
  // stdio: newline-delimited JSON-RPC on stdin/stdout until stdin ends.
  const transport = new StdioServerTransport();
  // stdin ending is the client closing: answer what is running, then exit.
  process.stdin.on('end', () => {
    stdinEnded = true;
    // The SDK dispatches a request's handler a tick after its line arrives:
    // give the last lines' handlers that tick before counting them.
    setTimeout(() => {
      if (inFlight === 0) process.exit(0);
    }, 20);
  });
  newServer().connect(transport).catch(err => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}
