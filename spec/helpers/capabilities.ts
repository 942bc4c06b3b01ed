/**
 * What the running Node can show us. Node 22's global fetch is undici 6, which
 * publishes `undici:request:bodySent` but not `bodyChunkSent` or
 * `bodyChunkReceived`: the JSON-RPC inside a fetch POST cannot be read there,
 * so such a POST stays one plain HTTP call (docs/mcp.md, Node 22 and fetch). Node 24's
 * undici 7 publishes both. Specs assert the behaviour of the runtime they run on.
 */
export const FETCH_BODIES = Number((process.versions as { undici?: string }).undici?.split('.')[0] ?? 0) >= 7;
