/**
 * lib/paths/jsonrpc.ts on its own: line framing across chunks, the bound on what a
 * long line holds, batches, and reading a long line's outcome from its ends
 * (checked against JSON.parse of the same text).
 */
import { expect } from 'chai';
import { HEAD_BYTES, LineFramer, SseReader, readAnswer, readLine, readText, type Line } from '../lib/paths/jsonrpc';

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

  it('SSE: the data of each event, data lines joined', () => {
    const events: string[] = [];
    const sse = new SseReader(l => events.push(text(l)));
    sse.framer.push('event: message\ndata: {"a":\ndata: 1}\n\n: comment\ndata: {"b":2}\r\n\r\n');
    sse.end();
    expect(events).to.deep.equal(['{"a":\n1}', '{"b":2}']);
  });
});
