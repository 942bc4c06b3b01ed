// Routes a JSON-RPC call to a backend node: HTTP to the node's agent first,
// and `kubectl exec <pod> -- agent` (stdio) when HTTP cannot reach it.
//
// A node with `mcp: true` runs an MCP agent (mcp-agent.js): the call's
// `tools/call` goes through an MCP client (@modelcontextprotocol/sdk), over
// Streamable HTTP to `http://<node.http>/mcp` (one session per node, opened by
// connectAll() at start and kept; a call that finds none opens one itself),
// or, when that is unreachable, over stdio to one persistent
// `kubectl exec -i <pod> -- mcp-agent --stdio` child per node (started by the
// first call that needs it and kept, like an MCP host keeps its stdio
// servers; restarted when it exits).
//
// Nothing here mentions metrics: with register({ http: { nodeFor }, exec: {
// nodeFor } }) both attempts are timed automatically (one sample per attempt),
// and only the fallback itself is counted by hand.
'use strict';
const http = require('node:http');
const { execFile } = require('node:child_process');
const path = require('node:path');

const KUBECTL = path.join(__dirname, 'bin', 'kubectl');
/** Errors that mean "HTTP cannot reach the node", so exec is worth a try. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE']);
/** fetch (the MCP SDK's HTTP client) wraps the socket error: TypeError('fetch failed', { cause }). */
const errorCode = err => err?.code ?? err?.cause?.code;

class RouteError extends Error {
  constructor(message, status, cause) {
    super(message, { cause });
    this.status = status;
  }
}

class Router {
  /**
   * @param {{ nodes: { name: string, http: string | null, pod: string }[],
   *           onFallback?: (node: string, from: string, to: string) => void,
   *           httpTimeoutMs?: number, execTimeoutMs?: number }} options
   */
  constructor({ nodes, onFallback = () => {}, httpTimeoutMs = 5000, execTimeoutMs = 10000 }) {
    this.nodes = new Map(nodes.map(n => [n.name, n]));
    this.onFallback = onFallback;
    this.httpTimeoutMs = httpTimeoutMs;
    this.execTimeoutMs = execTimeoutMs;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    /** node name → Promise<Client>: MCP sessions over Streamable HTTP, and persistent stdio agents. */
    this.mcpHttp = new Map();
    this.mcpExec = new Map();
  }

  async route(nodeName, rpc) {
    const node = this.nodes.get(nodeName);
    if (node === undefined) throw new RouteError(`unknown node ${nodeName}`, 404);
    if (node.http) {
      try {
        return await this.routeViaHTTP(node, rpc);
      } catch (err) {
        if (!UNREACHABLE.has(errorCode(err))) throw err;
        this.onFallback(node.name, 'http', 'exec');
      }
    }
    return this.routeViaExec(node, rpc);
  }

  /** POST the call to the node's HTTP agent. */
  routeViaHTTP(node, rpc) {
    if (node.mcp) return this.callTool(node, rpc, this.mcpHttp, () => this.connectHTTP(node), this.httpTimeoutMs, false);
    const body = JSON.stringify(rpc);
    const [host, port] = node.http.split(':');
    return new Promise((resolve, reject) => {
      const req = http.request({
        host, port: Number(port), method: 'POST', path: '/rpc', agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: this.httpTimeoutMs,
      }, res => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', d => (text += d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode, body: JSON.parse(text) });
          } catch (err) {
            reject(new RouteError(`bad answer from ${node.name}`, 502, err));
          }
        });
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('agent timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Run the agent in the node's pod and talk JSON-RPC over its stdio. */
  routeViaExec(node, rpc) {
    if (node.mcp) return this.callTool(node, rpc, this.mcpExec, () => this.connectExec(node), this.execTimeoutMs, true);
    return new Promise((resolve, reject) => {
      const child = execFile(KUBECTL, ['exec', '-n', 'demo', '-i', node.pod, '--', 'agent', '--stdio'], { timeout: this.execTimeoutMs }, (err, stdout) => {
        const line = String(stdout).trim().split('\n').pop();
        let answer;
        try {
          answer = JSON.parse(line);
        } catch {
          reject(new RouteError(`exec to ${node.name} failed: ${err ? err.message : 'no answer'}`, 502, err));
          return;
        }
        resolve({ status: answer.error ? 500 : 200, body: answer });
      });
      child.stdin.end(`${JSON.stringify(rpc)}\n`);
    });
  }

  /** Open the Streamable HTTP session of every MCP node (those that answer); calls reuse them. */
  async connectAll() {
    await Promise.all([...this.nodes.values()].filter(n => n.mcp && n.http).map(async node => {
      try {
        this.mcpHttp.set(node.name, Promise.resolve(await this.connectHTTP(node)));
      } catch {
        // Unreachable now: the first call tries again, and falls back to exec.
      }
    }));
  }

  /**
   * The call's `tools/call` through the node's MCP client. Answers like the
   * plain agents do: { status, body } with 200 for a result and 500 for a tool
   * error (isError) or a JSON-RPC error. `shared`: calls that find no client
   * wait for one connection (the stdio child: one process per node). Not
   * shared (HTTP): each call that finds no session tries to open one itself,
   * so that each call whose HTTP attempt fails falls back on its own attempt.
   */
  async callTool(node, rpc, clients, connect, timeout, shared) {
    if (rpc?.method !== 'tools/call' || typeof rpc.params?.name !== 'string') {
      throw new RouteError(`MCP node ${node.name} takes tools/call with params.name`, 400);
    }
    let client = clients.get(node.name);
    let extra = false; // a session opened while another was opened too: closed after this call
    if (client === undefined) {
      client = connect();
      if (shared) clients.set(node.name, client);
      else {
        client.then(c => {
          if (clients.has(node.name)) extra = true;
          else clients.set(node.name, client);
        }, () => {});
      }
    }
    try {
      const c = await client;
      try {
        const result = await c.callTool({ name: rpc.params.name, arguments: rpc.params.arguments ?? {} }, undefined, { timeout });
        return { status: result.isError ? 500 : 200, body: { jsonrpc: '2.0', id: rpc.id ?? null, result } };
      } finally {
        if (extra) c.close().catch(() => {});
      }
    } catch (err) {
      // A session that failed to connect, whose agent went away, or that the
      // agent no longer knows (HTTP 404 after a restart) is dropped: the next
      // call connects again.
      const gone = UNREACHABLE.has(errorCode(err)) || err?.code === 404 || (await client.then(() => false, () => true));
      if (gone && clients.get(node.name) === client) {
        clients.delete(node.name);
        client.then(c => c.close(), () => {}).catch(() => {});
      }
      const { McpError, ErrorCode } = require('@modelcontextprotocol/sdk/types.js');
      if (err instanceof McpError && err.code !== ErrorCode.RequestTimeout && err.code !== ErrorCode.ConnectionClosed) {
        // A JSON-RPC error answer (McpError carries its code): the agent answered.
        return { status: 500, body: { jsonrpc: '2.0', id: rpc.id ?? null, error: { code: err.code, message: err.message } } };
      }
      throw err;
    }
  }

  async connectHTTP(node) {
    const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const client = new Client({ name: 'example-gateway', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://${node.http}/mcp`)), { timeout: this.httpTimeoutMs });
    return client;
  }

  async connectExec(node) {
    const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
    const { StdioClientTransport, getDefaultEnvironment } = require('@modelcontextprotocol/sdk/client/stdio.js');
    const transport = new StdioClientTransport({
      command: KUBECTL,
      args: ['exec', '-n', 'demo', '-i', node.pod, '--', 'mcp-agent', '--stdio'],
      // The SDK passes only a safe subset of the environment; the demo's pod table goes along.
      env: { ...getDefaultEnvironment(), ...(process.env.DEMO_PODS ? { DEMO_PODS: process.env.DEMO_PODS } : {}) },
      stderr: 'inherit',
    });
    const client = new Client({ name: 'example-gateway', version: '1.0.0' });
    // The child exited (or was closed): the next call starts a new one.
    client.onclose = () => {
      const entry = this.mcpExec.get(node.name);
      entry?.then(c => {
        if (c === client && this.mcpExec.get(node.name) === entry) this.mcpExec.delete(node.name);
      }, () => {});
    };
    await client.connect(transport, { timeout: this.execTimeoutMs });
    return client;
  }

  /** Ends the MCP sessions (HTTP: DELETE; stdio: stdin closed, the child exits) and the HTTP agent. */
  async close() {
    const clients = [...this.mcpHttp.values(), ...this.mcpExec.values()];
    this.mcpHttp.clear();
    this.mcpExec.clear();
    await Promise.all(clients.map(c => c.then(async client => {
      await client.transport?.terminateSession?.().catch(() => {});
      await client.close();
    }, () => {}).catch(() => {})));
    this.agent.destroy();
  }
}

module.exports = { Router, RouteError };
