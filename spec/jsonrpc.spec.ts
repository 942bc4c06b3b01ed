/**
 * lib/protocols/jsonrpc.ts on its own: line framing across chunks, the bound on what a
 * long line holds, batches, and reading a long line's outcome from its ends
 * (checked against JSON.parse of the same text).
 */
import { expect } from 'chai';
import { HEAD_BYTES, LineFramer, SseReader, readAnswer, readLine, readRequest, readSdkRequest, readSdkResponse, readText, type Line } from '../lib/protocols/jsonrpc';

function frame(chunks: (string | Buffer)[]): Line[] {
  const lines: Line[] = [];
  const f = new LineFramer(l => lines.push(l));
  for (const c of chunks) f.push(c);
  return lines;
}

const text = (l: Line) => (l.long ? `<long ${l.length}>` : l.text);

describe('jsonrpc framing and reading', () => {
  it('splits lines across chunks and chunks holding many lines, strings and Buffers alike, multi-byte characters intact', () => {
    const all = '{"a":1}\n{"b":"é€"}\n\n{"c":3}\n';
    const bytes = Buffer.from(all);
    for (const cut of [1, 3, 7, 12, 15]) {
      const chunks = [bytes.subarray(0, cut), bytes.subarray(cut)];
      expect(frame(chunks).map(text)).to.deep.equal(['{"a":1}', '{"b":"é€"}', '', '{"c":3}']);
    }
    expect(frame([all.slice(0, 5), all.slice(5)]).map(text)).to.deep.equal(['{"a":1}', '{"b":"é€"}', '', '{"c":3}']);
  });

  it('holds at most the head and the tail of a long line, and hands over its length', () => {
    const lines: Line[] = [];
    const f = new LineFramer(l => lines.push(l));
    const chunk = Buffer.alloc(65536, 'x');
    f.push(Buffer.from('{"jsonrpc":"2.0","id":5,"result":{"t":"'));
    for (let i = 0; i < 80; i++) f.push(chunk); // 5 MiB
    const held = (f as unknown as { _held: number; _tailHeld: number });
    expect(held._held).to.equal(HEAD_BYTES);
    expect(held._tailHeld).to.be.at.most(65536 + 4096);
    f.push(Buffer.from('"}}\n'));
    expect(lines).to.have.length(1);
    const l = lines[0]!;
    expect(l.long).to.equal(true);
    if (!l.long) return;
    expect(l.length).to.equal(39 + 80 * 65536 + 3);
    expect(l.head.length).to.equal(4096);
    expect(l.tail.endsWith('"}}')).to.equal(true);
    expect(readLine(l)).to.deep.equal({ ok: true, messages: [{ id: 5, method: undefined, name: undefined, response: true, errorCode: undefined, isError: false }] });
  });

  it('reads batches: each request of an array', () => {
    const r = readText('[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":"b","method":"prompts/get","params":{"name":"p"}}]');
    expect(r.ok && r.messages.map(m => [m.id, m.method, m.name])).to.deep.equal([[1, 'tools/call', 'a'], [undefined, 'notifications/x', undefined], ['b', 'prompts/get', 'p']]);
    expect(readText('not json')).to.deep.equal({ ok: false, reason: 'not-json' });
    expect(readText('{"id":1,"method":"x"}')).to.deep.equal({ ok: false, reason: 'not-jsonrpc' });
  });

  it('reads the outcome of long lines from their ends, as JSON.parse of the whole line would', () => {
    const pad = 'y'.repeat(200_000);
    const shapes: object[] = [
      { result: { content: [{ type: 'text', text: pad }] }, jsonrpc: '2.0', id: 3 },
      { result: { content: [{ type: 'text', text: pad }], isError: true }, jsonrpc: '2.0', id: 'x-1' },
      { jsonrpc: '2.0', id: 4, result: { content: [{ type: 'text', text: pad }], isError: true } },
      { jsonrpc: '2.0', id: 5, error: { code: -32602, message: pad } },
      { method: 'tools/call', params: { name: 'search', arguments: { q: pad } }, jsonrpc: '2.0', id: 6 },
      { jsonrpc: '2.0', id: 7, method: 'prompts/get', params: { name: 'greet', arguments: { q: pad } } },
    ];
    for (const shape of shapes) {
      const line = JSON.stringify(shape);
      const [whole] = (readText(line) as { messages: unknown[] }).messages;
      const lines = frame([Buffer.from(line + '\n')]);
      expect(lines[0]!.long).to.equal(true);
      expect(readAnswer(lines[0]!), line.slice(0, 60)).to.deep.equal({ ok: true, messages: [whole] });
    }
  });

  it('reads SDK-shaped answers without JSON.parse, and falls back to it for any other shape', () => {
    const cases = [
      { result: { content: [] }, jsonrpc: '2.0', id: 1 },
      { result: { content: [], isError: true }, jsonrpc: '2.0', id: 2 },
      { result: { isError: true, content: [] }, jsonrpc: '2.0', id: 3 },
      { result: { item: { id: 9 } }, jsonrpc: '2.0', id: 4 },
      { jsonrpc: '2.0', id: 5, result: { item: { id: 9 } } },
      { result: { content: [{ type: 'text', text: 'a "isError": true}' }] }, jsonrpc: '2.0', id: 6 },
      { result: {}, jsonrpc: '2.0', id: 'q"uote' },
    ];
    for (const c of cases) {
      const line = JSON.stringify(c);
      expect(readAnswer({ text: line, long: false }), line).to.deep.equal(readText(line));
    }
  });

  it('reads SDK-shaped requests without JSON.parse, and falls back to it for any other shape', () => {
    // The MCP SDK's own lines (JSON.stringify of { method, params, jsonrpc, id }), read by the scan.
    const sdk: [object, object][] = [
      [{ method: 'tools/call', params: { name: 'echo', arguments: { text: 'a' } }, jsonrpc: '2.0', id: 7 },
        { id: 7, method: 'tools/call', name: 'echo', response: false, errorCode: undefined, isError: false }],
      [{ method: 'prompts/get', params: { name: 'greet' }, jsonrpc: '2.0', id: 0 },
        { id: 0, method: 'prompts/get', name: 'greet', response: false, errorCode: undefined, isError: false }],
      [{ method: 'tools/list', params: {}, jsonrpc: '2.0', id: 123456789012345 },
        { id: 123456789012345, method: 'tools/list', name: undefined, response: false, errorCode: undefined, isError: false }],
      [{ method: 'ping', jsonrpc: '2.0', id: 'req-1' },
        { id: 'req-1', method: 'ping', name: undefined, response: false, errorCode: undefined, isError: false }],
      [{ method: 'tools/call', params: { name: 'é "q" \\ ü', arguments: {} }, jsonrpc: '2.0', id: 2 },
        { id: 2, method: 'tools/call', name: 'é "q" \\ ü', response: false, errorCode: undefined, isError: false }],
    ];
    for (const [message, read] of sdk) {
      const line = JSON.stringify(message);
      expect(readSdkRequest(line), line).to.deep.equal({ ok: true, messages: [read] });
      expect(readSdkRequest(`${line}\r`), line).to.deep.equal({ ok: true, messages: [read] });
      expect(readText(line), line).to.deep.equal({ ok: true, messages: [read] });
    }
    // Every other shape: not read by the scan (undefined) or read as JSON.parse reads it.
    const others = [
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'a' } },
      { method: 'tools/call', params: { arguments: {}, name: 'late' }, jsonrpc: '2.0', id: 3 },
      { method: 'tools/call', params: { arguments: { name: 'inner' } }, jsonrpc: '2.0', id: 4 },
      { method: 'notifications/cancelled', params: { requestId: 5, reason: 'x' }, jsonrpc: '2.0' },
      { method: 'notifications/progress', params: { id: 5 }, jsonrpc: '2.0' },
      { method: 'x', params: { a: { jsonrpc: '2.0', id: 9 } }, jsonrpc: '2.0' },
      { method: 'x', jsonrpc: '1.0', id: 6 },
      { method: '', jsonrpc: '2.0', id: 8 },
      { method: 'tools/call', params: { name: '' }, jsonrpc: '2.0', id: 10 },
      { method: 'tools/call', params: { name: 'n'.repeat(300) }, jsonrpc: '2.0', id: 11 },
      { method: 'm'.repeat(300), jsonrpc: '2.0', id: 12 },
      { method: 'x', jsonrpc: '2.0', id: 2 ** 60 },
      { method: 'x', jsonrpc: '2.0', id: -3 },
      { method: 'x', jsonrpc: '2.0', id: null },
      { result: {}, jsonrpc: '2.0', id: 13 },
    ];
    for (const o of others) {
      const line = JSON.stringify(o);
      const fast = readSdkRequest(line);
      if (fast !== undefined) expect(fast, line).to.deep.equal(readText(line));
      expect(readRequest({ text: line, long: false }), line).to.deep.equal(readText(line));
    }
    // The JSON-RPC-first compact form is read by the scan too, as JSON.parse reads it.
    expect(readSdkRequest(JSON.stringify(others[0]))).to.deep.equal({ ok: true, messages: [{ id: 1, method: 'tools/call', name: 'a', response: false, errorCode: undefined, isError: false }] });
    // The ones the scan must leave to JSON.parse (it cannot see past the first key / the last one).
    for (const o of others.slice(1, 6)) expect(readSdkRequest(JSON.stringify(o)), JSON.stringify(o)).to.equal(undefined);
    // Spacing is read by the patterns.
    const spaced = '{ "method" : "tools/call", "params" : { "name" : "s", "arguments": {} }, "jsonrpc" : "2.0", "id" : 14 }';
    expect(readSdkRequest(spaced)).to.deep.equal(readText(spaced));
    expect((readSdkRequest(spaced) as { messages: { name: string }[] }).messages[0]!.name).to.equal('s');
  });

  it('reads compact SDK answers with a numeric id by a scan, as JSON.parse reads them', () => {
    const lines = [
      '{"result":{"content":[{"type":"text","text":"ok"}]},"jsonrpc":"2.0","id":41}',
      '{"result":{},"jsonrpc":"2.0","id":0}',
      '{"result":{"content":[]},"jsonrpc":"2.0","id":01}',
      '{"result":{"a":{"jsonrpc":"2.0","id":3}}}',
      '{"result":{"content":[],"isError":true},"jsonrpc":"2.0","id":42}',
    ];
    expect(readSdkResponse(lines[0]!)).to.deep.equal({ ok: true, messages: [{ id: 41, method: undefined, name: undefined, response: true, errorCode: undefined, isError: false }] });
    expect(readSdkResponse(lines[1]!)).to.deep.equal({ ok: true, messages: [{ id: 0, method: undefined, name: undefined, response: true, errorCode: undefined, isError: false }] });
    // A leading zero (not JSON) is not taken by the scan; the patterns read the digits as they did before it.
    expect(readSdkResponse(lines[2]!)).to.deep.equal({ ok: true, messages: [{ id: 1, method: undefined, name: undefined, response: true, errorCode: undefined, isError: false }] });
    // No top-level id: the nested one is not taken for it.
    expect(readSdkResponse(lines[3]!)).to.equal(undefined);
    expect(readAnswer({ text: lines[4]!, long: false })).to.deep.equal(readText(lines[4]!));
    expect((readText(lines[4]!) as { messages: { isError: boolean }[] }).messages[0]!.isError).to.equal(true);
  });

  it('SSE: the data of each event, data lines joined', () => {
    const events: string[] = [];
    const sse = new SseReader(l => events.push(text(l)));
    sse.framer.push('event: message\ndata: {"a":\ndata: 1}\n\n: comment\ndata: {"b":2}\r\n\r\n');
    sse.end();
    expect(events).to.deep.equal(['{"a":\n1}', '{"b":2}']);
  });
});
