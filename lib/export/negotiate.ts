/**
 * Which exposition format a scrape gets, from its `Accept` header, the way
 * Prometheus's own client libraries choose: the highest q-value wins (ties go
 * to the range listed first); the text format 0.0.4 when nothing we serve is
 * asked for, or when there is no header at all.
 *
 * What Prometheus sends (its scrape_protocols, as 2.42 and 3.x write them):
 * - 2.42 with `--enable-feature=native-histograms`: the protobuf format first,
 *   then `application/openmetrics-text;version=1.0.0;q=0.8`, OpenMetrics
 *   0.0.1, `text/plain;version=0.0.4;q=0.5`, `*\/*;q=0.1`;
 * - 2.42 without it: OpenMetrics 1.0.0 first (no q), then the same;
 * - 3.x: OpenMetrics first by default, protobuf first when native histograms
 *   are on, with an `escaping=…` parameter we can ignore (our names and label
 *   names are valid under every escaping scheme).
 */
import { CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE } from './exposition';
import { PROTOBUF_CONTENT_TYPE } from './protobuf';

export type ExpositionFormat = 'text' | 'openmetrics' | 'protobuf';

export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = Object.freeze({
  text: CONTENT_TYPE,
  openmetrics: OPENMETRICS_CONTENT_TYPE,
  protobuf: PROTOBUF_CONTENT_TYPE,
});

/** The format one media range of the header asks for (undefined: none of ours). */
function formatOf(type: string, params: Map<string, string>): ExpositionFormat | undefined {
  switch (type) {
    case 'application/vnd.google.protobuf':
      // Only the delimited binary form; the text and compact-text encodings are not served.
      return params.get('proto') === 'io.prometheus.client.MetricFamily' && params.get('encoding') === 'delimited' ? 'protobuf' : undefined;
    case 'application/openmetrics-text': {
      const version = params.get('version');
      return version === undefined || version === '1.0.0' || version === '0.0.1' ? 'openmetrics' : undefined;
    }
    case 'text/plain': {
      const version = params.get('version');
      return version === undefined || version === '0.0.4' || version === '1.0.0' ? 'text' : undefined;
    }
    case '*/*':
    case 'text/*':
      return 'text';
    case 'application/*':
      return 'openmetrics';
    default:
      return undefined;
  }
}

export function negotiate(accept: string | string[] | undefined): ExpositionFormat {
  const header = Array.isArray(accept) ? accept.join(',') : accept;
  if (header === undefined || header === '') return 'text';
  let best: ExpositionFormat = 'text';
  let bestQ = 0;
  // Bounded: a header has at most the server's header size limit (8 kB on our listener).
  for (const range of header.split(',')) {
    const [rawType, ...rawParams] = range.split(';');
    const type = rawType!.trim().toLowerCase();
    if (type === '') continue;
    const params = new Map<string, string>();
    for (const p of rawParams) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      params.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
    }
    const format = formatOf(type, params);
    if (format === undefined) continue;
    const rawQ = params.get('q');
    const q = rawQ === undefined ? 1 : Number(rawQ);
    if (!(q > 0 && q <= 1)) continue;
    if (q > bestQ) {
      best = format;
      bestQ = q;
    }
  }
  return best;
}
