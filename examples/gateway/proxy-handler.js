// Takes JSON-RPC POSTs on /rpc and hands each to the Router.
// The target node is params.node (or the x-node header).
//
// /mcp is the gateway's own MCP endpoint (Streamable HTTP, stateless, JSON
// answers) for MCP clients: tools/list lists the agents' tools, and a
// tools/call goes to the node named by its `node` argument (taken out of the
// arguments the agent gets), through the same Router.
'use strict';
const { RouteError } = require('./router');

const MAX_BODY = 1 << 20;

class ProxyHandler {
  constructor(router) {
    this.router = router;
    this.handle = this.handle.bind(this);
  }

  handle(req, res) {
    if (req.url === '/mcp' || req.url.startsWith('/mcp?')) {
      this.handleMcp(req, res).catch(err => {
        if (!res.headersSent) send(res, 500, { jsonrpc: '2.0', id: null, error: { code: -32603, message: err.message } });
        else res.destroy(err);
      });
      return;
    }
    if (req.method !== 'POST' || !req.url.startsWith('/rpc')) {
      send(res, 404, { error: 'POST JSON-RPC to /rpc' });
      return;
    }
    let body = '';
    let size = 0;
    req.setEncoding('utf8');
    req.on('data', d => {
      size += d.length;
      if (size > MAX_BODY) req.destroy();
      else body += d;
    });
    req.on('end', async () => {
      let rpc;
      try {
        rpc = JSON.parse(body);
      } catch {
        send(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
        return;
      }
      const node = rpc?.params?.node ?? req.headers['x-node'];
      try {
        const out = await this.router.route(node, rpc);
        send(res, out.status === 200 ? 200 : 502, out.body);
      } catch (err) {
        const status = err instanceof RouteError ? err.status : 502;
        send(res, status, { jsonrpc: '2.0', id: rpc?.id ?? null, error: { code: -32001, message: err.message } });
      }
    });
  }
}

const MCP_TOOLS = [
  { name: 'search', description: 'Search a node\'s documents.', inputSchema: { type: 'object', properties: { node: { type: 'string' }, query: { type: 'string' } }, required: ['node', 'query'] } },
  { name: 'fetch_doc', description: 'Fetch one document from a node.', inputSchema: { type: 'object', properties: { node: { type: 'string' }, id: { type: 'string' } }, required: ['node', 'id'] } },
  { name: 'summarize', description: 'Summarize a text on a node.', inputSchema: { type: 'object', properties: { node: { type: 'string' }, text: { type: 'string' } }, required: ['node', 'text'] } },
];

/** One stateless MCP server per POST (the SDK's stateless pattern): no session to keep. */
ProxyHandler.prototype.handleMcp = async function handleMcp(req, res) {
  if (req.method !== 'POST') {
    send(res, 405, { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'POST only (stateless)' } });
    return;
  }
  const { Server } = require('@modelcontextprotocol/sdk/server/index.js');
  const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js');
  const { CallToolRequestSchema, ListToolsRequestSchema, McpError, ErrorCode } = require('@modelcontextprotocol/sdk/types.js');
  const server = new Server({ name: 'example-gateway', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: MCP_TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async request => {
    const { node, ...args } = request.params.arguments ?? {};
    if (typeof node !== 'string') throw new McpError(ErrorCode.InvalidParams, 'arguments.node: the node to route to');
    let out;
    try {
      out = await this.router.route(node, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: request.params.name, arguments: args } });
    } catch (err) {
      throw new Error(`${node}: ${err.message}`); // the SDK answers it as a JSON-RPC internal error
    }
    if (out.body.error) throw new McpError(out.body.error.code, out.body.error.message);
    return out.body.result;
  });
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    transport.close().catch(() => {});
    server.close().catch(() => {});
  });
  await server.connect(transport);
  await transport.handleRequest(req, res);
};

function send(res, status, obj) {
  const text = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

module.exports = { ProxyHandler };
