// Routes a JSON-RPC call to a backend node: HTTP to the node's agent first,
// and `kubectl exec <pod> -- agent` (stdio) when HTTP cannot reach it.
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
  }

  async route(nodeName, rpc) {
    const node = this.nodes.get(nodeName);
    if (node === undefined) throw new RouteError(`unknown node ${nodeName}`, 404);
    if (node.http) {
      try {
        return await this.routeViaHTTP(node, rpc);
      } catch (err) {
        if (!UNREACHABLE.has(err.code)) throw err;
        this.onFallback(node.name, 'http', 'exec');
      }
    }
    return this.routeViaExec(node, rpc);
  }

  /** POST the call to the node's HTTP agent. */
  routeViaHTTP(node, rpc) {
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

  close() {
    this.agent.destroy();
  }
}

module.exports = { Router, RouteError };
