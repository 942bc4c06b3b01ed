/**
 * The HTTP path's reading of the wire objects (node:http's ClientRequest and
 * IncomingMessage, undici's request and its raw header lists): headers and
 * declared lengths, and the heads shown to protocol readers.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { RequestHead, ResponseHead } from '../protocols/protocol';

const EVENT_STREAM = 'text/event-stream';

export function byteLength(body: unknown): number | undefined {
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  if (body instanceof ArrayBuffer) return body.byteLength;
  return undefined;
}

export function contentLength(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** A header from undici's raw header list ([k, v, k, v, …] of Buffers or strings). */
export function undiciHeader(headers: unknown, name: string): string | undefined {
  if (!Array.isArray(headers)) return undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
  }
  return undefined;
}

export function isEventStream(contentType: unknown): boolean {
  return typeof contentType === 'string' && contentType.trimStart().toLowerCase().startsWith(EVENT_STREAM);
}


/**
 * The heads shown to protocol readers: one object of each kind per HTTP path,
 * pointed at the call's own objects for the duration of one reader call (a
 * reader never keeps a head), so showing a head allocates nothing.
 */
export class NodeRequestHead implements RequestHead {
  request: ClientRequest | undefined = undefined;
  get method(): string {
    return this.request!.method;
  }
  get path(): string {
    return this.request!.path;
  }
  header(name: string): string | undefined {
    const v = this.request!.getHeader(name);
    return v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : String(v);
  }
}

export class NodeResponseHead implements ResponseHead {
  response: IncomingMessage | undefined = undefined;
  get status(): number {
    return this.response!.statusCode ?? 0;
  }
  header(name: string): string | undefined {
    const v = this.response!.headers[name];
    return v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : v;
  }
}

/** undici's request (method, path, raw headers) or response (status, raw headers). */
export class UndiciHead implements RequestHead, ResponseHead {
  method = '';
  path = '';
  status = 0;
  headers: unknown = undefined;
  header(name: string): string | undefined {
    return undiciHeader(this.headers, name);
  }
}
