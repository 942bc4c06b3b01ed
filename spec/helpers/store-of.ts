/**
 * The series store behind a registration, for specs that compare what the
 * endpoint serves with what the store holds (register() keeps it private).
 */
import type { GatewayOtel } from '../../lib';
import { HistogramInstrument, type HistogramSeries } from '../../lib/store/histogram';
import type { SeriesStore } from '../../lib/store/store';

export function storeOf(otel: GatewayOtel): SeriesStore {
  const store = (otel as unknown as { _store?: SeriesStore })._store;
  if (store === undefined) throw new Error('no store on this registration');
  return store;
}

export function histogramOf(store: SeriesStore, name: string): HistogramInstrument {
  const found = store.instruments.find(i => i.stream.name === name);
  if (!(found instanceof HistogramInstrument)) throw new Error(`no stored histogram ${name}`);
  return found;
}

/** The live rows of a stored histogram with their cells. */
export function rowsOf(h: HistogramInstrument): { row: number; cell: HistogramSeries }[] {
  const out: { row: number; cell: HistogramSeries }[] = [];
  for (let row = 1; row < h.rows.end; row++) {
    const cell = h.rows.cells[row];
    if (cell !== undefined) out.push({ row, cell });
  }
  return out;
}
