// Takes JSON-RPC POSTs on /rpc and hands each to the Router.
// The target node is params.node (or the x-node header).
'use strict';
const { RouteError } = require('./router');

const MAX_BODY = 1 << 20;

class ProxyHandler {
  constructor(router) {
    this.router = router;
    this.handle = this.handle.bind(this);
  }

  handle(req, res) {
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

function send(res, status, obj) {
  const text = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

module.exports = { ProxyHandler };
