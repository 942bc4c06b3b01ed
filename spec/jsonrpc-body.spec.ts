/**
 * lib/protocols/jsonrpc-body.ts on its own: JSON-RPC documents of HTTP bodies
 * read from their two ends (Doc), and event-stream answers framed on bytes
 * (SseDocs), for random messages in every key order, cut into random chunks
 * (bytes or strings). The expected reading is built here from the generated
 * objects, not by the code under test.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Doc, SseDocs } from '../lib/protocols/jsonrpc-body';
import { HEAD_BYTES, type Message } from '../lib/protocols/jsonrpc';

type Obj = Record<string, unknown>;

/** The object's keys in one of three orders: as the JSON-RPC specification lists them, the MCP SDK's (id last), or reversed. */
function ordered(o: Obj, order: number): Obj {
  const keys = Object.keys(o);
  const sdk = [...keys.filter(k => k !== 'jsonrpc' && k !== 'id'), 'jsonrpc', 'id'].filter(k => k in o);
  const list = order === 0 ? keys : order === 1 ? sdk : [...keys].reverse();
  return Object.fromEntries(list.map(k => [k, o[k]]));
}

const name = fc.stringMatching(/^[a-z][a-z0-9_/.-]{0,20}$/);
const id = fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.stringMatching(/^[a-z0-9-]{1,12}$/));
const junk = fc.jsonValue({ maxDepth: 3 });

const request = fc.record({ id, method: fc.oneof(fc.constantFrom('tools/call', 'prompts/get'), name), tool: name, args: junk, order: fc.integer({ min: 0, max: 2 }), unnamed: fc.boolean() })
  .map(r => {
    // A tools/call may come without a name (the example gateway's calls do).
    const named = (r.method === 'tools/call' || r.method === 'prompts/get') && !r.unnamed;
    const o = ordered({ jsonrpc: '2.0', id: r.id, method: r.method, params: named ? { name: r.tool, arguments: r.args } : { arguments: r.args } }, r.order);
    const want: Message = { id: r.id, method: r.method, name: named ? r.tool : undefined, response: false, errorCode: undefined, isError: false };
    return { o, want };
  });

/** Results that carry isError (true or false, first or last key), text that says "isError", or nothing of it; or errors. */
const answer = fc.record({
  id,
  kind: fc.constantFrom('result', 'error'),
  isError: fc.constantFrom(undefined, true, false),
  isErrorFirst: fc.boolean(),
  text: fc.oneof(fc.string(), fc.constant('isError'), fc.constant('"isError": true')),
  code: fc.integer({ min: -32768, max: 32767 }),
  order: fc.integer({ min: 0, max: 2 }),
}).map(a => {
  let o: Obj;
  if (a.kind === 'error') o = { jsonrpc: '2.0', id: a.id, error: { code: a.code, message: a.text } };
  else {
    const content = [{ type: 'text', text: a.text }];
    const result = a.isError === undefined ? { content } : a.isErrorFirst ? { isError: a.isError, content } : { content, isError: a.isError };
    o = { jsonrpc: '2.0', id: a.id, result };
  }
  const want: Message = {
    id: a.id, method: undefined, name: undefined, response: true,
    errorCode: a.kind === 'error' ? a.code : undefined, isError: a.kind === 'result' && a.isError === true,
  };
  return { o: ordered(o, a.order), want };
});

/** `text` cut at `cuts` (fractions), as bytes or as strings (cut on characters: a writer hands whole strings). */
function chunks(text: string, cuts: number[], asBytes: boolean): (string | Uint8Array)[] {
  const whole: string | Buffer = asBytes ? Buffer.from(text) : text;
  const at = [...new Set(cuts.map(f => Math.floor(f * whole.length)))].sort((x, y) => x - y);
  const out: (string | Uint8Array)[] = [];
  let prev = 0;
  for (const c of [...at, whole.length]) {
    if (c <= prev) continue;
    out.push(typeof whole === 'string' ? whole.slice(prev, c) : new Uint8Array(whole.subarray(prev, c)));
    prev = c;
  }
  return out;
}

function feed(doc: Doc, parts: (string | Uint8Array)[]): Doc {
  for (const p of parts) doc.append(p);
  return doc;
}

const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });

describe('JSON-RPC documents of HTTP bodies, read from their ends', () => {
  it('reads every request as it was written, however it is cut', () => {
    fc.assert(fc.property(request, cuts, fc.boolean(), ({ o, want }, c, bytes) => {
      const read = feed(new Doc(false), chunks(JSON.stringify(o), c, bytes)).requests();
      expect(read).to.deep.equal({ ok: true, messages: [want] });
    }), { numRuns: 400 });
  });

  it('reads every answer\'s id and outcome, however it is cut (an "isError" in text is no tool error)', () => {
    fc.assert(fc.property(answer, cuts, fc.boolean(), ({ o, want }, c, bytes) => {
      const read = feed(new Doc(true), chunks(JSON.stringify(o), c, bytes)).answers();
      expect(read).to.deep.equal({ ok: true, messages: [want] });
    }), { numRuns: 600 });
  });

  it('sees "isError" cut across two chunks at every position', () => {
    const text = JSON.stringify({ result: { content: [{ type: 'text', text: 'x'.repeat(300) }], isError: true }, jsonrpc: '2.0', id: 7 });
    const at = text.indexOf('"isError"');
    for (let k = at; k <= at + 9; k++) {
      const doc = feed(new Doc(true), [Buffer.from(text.slice(0, k)), Buffer.from(text.slice(k))]);
      expect(doc.answers(), `cut at ${k - at}`).to.deep.equal({ ok: true, messages: [{ id: 7, method: undefined, name: undefined, response: true, errorCode: undefined, isError: true }] });
    }
  });

  it(`answers past ${HEAD_BYTES} bytes: the outcome from the ends, the middle searched as it passed`, () => {
    const big = 'y'.repeat(3 * HEAD_BYTES);
    const cases: [Obj, boolean][] = [
      [{ result: { content: [{ type: 'text', text: big }], isError: true }, jsonrpc: '2.0', id: 1 }, true],
      [{ result: { content: [{ type: 'text', text: big }] }, jsonrpc: '2.0', id: 1 }, false],
      [{ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: big }] } }, false],
      // "isError" only as text in the middle: not the result's key.
      [{ result: { content: [{ type: 'text', text: `${big}"isError"${big}` }] }, jsonrpc: '2.0', id: 1 }, false],
    ];
    for (const [o, isError] of cases) {
      const text = Buffer.from(JSON.stringify(o));
      const parts: Buffer[] = [];
      for (let i = 0; i < text.length; i += 16_384) parts.push(text.subarray(i, i + 16_384));
      const read = feed(new Doc(true), parts).answers();
      expect(read).to.deep.equal({ ok: true, messages: [{ id: 1, method: undefined, name: undefined, response: true, errorCode: undefined, isError }] });
    }
  });

  it('falls back to parsing other shapes: spacing, batches, notifications', () => {
    const spaced = '{ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": { "name": "s" } }';
    expect(feed(new Doc(false), [spaced]).requests()).to.deep.equal({ ok: true, messages: [{ id: 3, method: 'tools/call', name: 's', response: false, errorCode: undefined, isError: false }] });
    const batch = JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'a' }, { jsonrpc: '2.0', method: 'notifications/x' }]);
    expect(feed(new Doc(false), [batch]).requests()).to.deep.equal({ ok: true, messages: [
      { id: 1, method: 'a', name: undefined, response: false, errorCode: undefined, isError: false },
      { id: undefined, method: 'notifications/x', name: undefined, response: false, errorCode: undefined, isError: false },
    ] });
    expect(feed(new Doc(false), ['{"jsonrpc":"2.0","id":1,"method":"x"'.repeat(1)]).requests()).to.deep.equal({ ok: false, reason: 'not-json' });
    expect(feed(new Doc(true), ['{"a":1}']).answers()).to.deep.equal({ ok: false, reason: 'not-jsonrpc' });
  });
});

describe('event-stream answers framed on bytes', () => {
  const events = fc.array(fc.record({ a: answer, event: fc.boolean(), idLine: fc.boolean(), space: fc.boolean(), crlf: fc.boolean(), split: fc.boolean() }), { minLength: 1, maxLength: 4 });

  it('hands each event\'s data to the reader, whatever the line endings, fields and chunks', () => {
    fc.assert(fc.property(events, cuts, fc.boolean(), (list, c, bytes) => {
      let text = ': comment\n';
      for (const e of list) {
        const nl = e.crlf ? '\r\n' : '\n';
        if (e.event) text += `event: message${nl}`;
        if (e.idLine) text += `id: 42${nl}`;
        const json = JSON.stringify(e.a.o);
        // A document may span two data lines (joined with '\n', whitespace to JSON).
        const lines = e.split && json.includes(',') ? [json.slice(0, json.indexOf(',') + 1), json.slice(json.indexOf(',') + 1)] : [json];
        for (const l of lines) text += `data:${e.space ? ' ' : ''}${l}${nl}`;
        text += nl;
      }
      const got: unknown[] = [];
      const sse = new SseDocs(doc => got.push(doc.answers()));
      for (const p of chunks(text, c, bytes)) sse.push(p);
      sse.end();
      expect(got).to.deep.equal(list.map(e => ({ ok: true, messages: [e.a.want] })));
    }), { numRuns: 400 });
  });

  it('an event not closed by a blank line is read at the end of the stream', () => {
    const got: unknown[] = [];
    const sse = new SseDocs(doc => got.push(doc.answers()));
    sse.push('event: message\ndata: {"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}');
    sse.end();
    expect(got).to.deep.equal([{ ok: true, messages: [{ id: 1, method: undefined, name: undefined, response: true, errorCode: -32601, isError: false }] }]);
  });
});
