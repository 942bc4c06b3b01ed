/**
 * Map an arbitrary thrown value to the bounded `error.type` set.
 * Never throws: thrown values can be anything, including objects with
 * throwing getters or revoked proxies.
 *
 * The tables are Maps, not plain objects: a `code` of `constructor`,
 * `toString` or `__proto__` must not find Object.prototype's members (it gave
 * `error.type=""` or `"{}"`); such codes are `_OTHER`.
 */
import { ERROR_TYPE_OTHER, type DerivedErrorType } from './semconv';

const BY_CODE: ReadonlyMap<string, DerivedErrorType> = new Map(Object.entries({
  ETIMEDOUT: 'timeout',
  ESOCKETTIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  ERR_CHILD_PROCESS_TIMEOUT: 'timeout',
  ECONNREFUSED: 'connection_refused',
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  // The OS's "software caused connection abort"; axios also uses this code for
  // its own timeout ("timeout of 50ms exceeded"), handled before the table.
  ECONNABORTED: 'connection_reset',
  UND_ERR_SOCKET: 'connection_reset',
  UND_ERR_CLOSED: 'connection_reset',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  EAI_NONAME: 'dns',
  ABORT_ERR: 'aborted',
  UND_ERR_ABORTED: 'aborted',
  ERR_CANCELED: 'aborted',
}) as [string, DerivedErrorType][]);

const BY_NAME: ReadonlyMap<string, DerivedErrorType> = new Map([
  ['TimeoutError', 'timeout'],
  ['AbortError', 'aborted'],
]);

function get(obj: unknown, key: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function classifyOne(err: unknown): DerivedErrorType | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = get(err, 'code');
  const syscall = get(err, 'syscall');
  if (typeof syscall === 'string' && syscall.startsWith('spawn')) return 'spawn_error';
  if (typeof code === 'string') {
    // axios: `timeout` reports ECONNABORTED "timeout of …ms exceeded" (ETIMEDOUT
    // with transitional.clarifyTimeoutError).
    if (code === 'ECONNABORTED') {
      const message = get(err, 'message');
      if (typeof message === 'string' && message.startsWith('timeout')) return 'timeout';
    }
    const byCode = BY_CODE.get(code);
    if (byCode !== undefined) return byCode;
    if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.startsWith('CERT_') ||
        code.includes('SELF_SIGNED') || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') {
      return 'tls';
    }
  }
  const name = get(err, 'name');
  if (typeof name === 'string') {
    const byName = BY_NAME.get(name);
    if (byName !== undefined) return byName;
  }
  // child_process errors (execFile callback / promisified rejection).
  const signal = get(err, 'signal');
  if (get(err, 'killed') === true || (typeof signal === 'string' && signal !== '')) return 'signal';
  if (typeof code === 'number' && code !== 0) return 'exit_nonzero';
  return undefined;
}

/**
 * `error.type` for a thrown value, following `cause` (fetch wraps the socket
 * error in it). An abort whose cause is a timeout is a `timeout`: an
 * `AbortSignal.timeout()` given to http.request surfaces as an AbortError whose
 * cause is the signal's TimeoutError.
 */
export function errorTypeOf(err: unknown): DerivedErrorType {
  let e: unknown = err;
  let found: DerivedErrorType | undefined;
  for (let depth = 0; depth < 4 && e !== undefined && e !== null; depth++) {
    const t = classifyOne(e);
    if (t === 'timeout' && found === 'aborted') return t;
    if (t !== undefined && found === undefined) {
      if (t !== 'aborted') return t;
      found = t;
    }
    e = get(e, 'cause');
  }
  return found ?? ERROR_TYPE_OTHER;
}
