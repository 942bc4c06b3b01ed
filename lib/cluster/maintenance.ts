/**
 * Keeping the group's directory bounded, run by every live member from time
 * to time (and when its file grew large):
 * - a member rewrites its own file: its current rows, and of its ended rows
 *   only those still summed (a series the host forgot is gone for good),
 *   one per series;
 * - it takes over the rows of members that ended and that nobody took over
 *   (one taker per dead member: an exclusive claim file), in that same
 *   rewrite, which lists them as adopted: readers then skip their files, so
 *   the host's sums do not move, and the directory holds one file per live
 *   worker however often workers are replaced;
 * - it removes files of members adopted a while ago, and what a member that
 *   died mid-rewrite left behind.
 */
import { readdirSync, readFileSync, unlinkSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ExponentialCell } from '../store/exponential';
import { attributesKey, flattenExponential, unflattenExponential, type InstrumentRecord } from './journal';
import { processAlive } from './identity';
import type { HostView } from './host';
import type { Member } from './member';
import { FILE_RE, type GroupReader } from './reader';

const DATA_RE = /^m-(.+)\.(\d+)\.dat$/;

/** Every live member maintains the directory this often. */
export const MAINTAIN_MS = 30_000;
/** An adopted member's file is removed this long after its adoption (a reader may have listed it just before). */
export const ADOPTED_GRACE_MS = 60_000;

/** In-flight counts and node up: a member that ended has none to keep. */
function liveOnly(r: InstrumentRecord): boolean {
  return r.kind === 'observed' && r.observedKind !== 'counter';
}

interface Accumulated {
  /** The row id of the retained row it started from (a row merged from several, or adopted, gets a new one). */
  id: number | undefined;
  instrument: InstrumentRecord;
  attributes: Readonly<Record<string, unknown>>;
  start: number;
  began: number;
  active: number;
  numbers: Float64Array;
  exponential: ExponentialCell | undefined;
}

/** Adds `from` into `into` (numbers of the same instrument shape). */
function addNumbers(instrument: InstrumentRecord, into: Float64Array, from: Float64Array): void {
  if (instrument.kind !== 'histogram') {
    into[0]! += from[0]!;
    return;
  }
  const nb = (instrument.boundaries?.length ?? 0) + 1;
  for (let i = 0; i < nb + 2; i++) into[i]! += from[i]!;
  into[nb + 2] = Math.min(into[nb + 2]!, from[nb + 2]!);
  into[nb + 3] = Math.max(into[nb + 3]!, from[nb + 3]!);
}

function claim(dir: string, key: string, member: Member, reader: GroupReader): boolean {
  const file = join(dir, `c-${key}`);
  const body = JSON.stringify({ member: member.key, pid: process.pid });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, body, { flag: 'wx', mode: 0o600 });
      return true;
    } catch {
      // Held: by a live member (it adopts), or by one that died before it did.
    }
    let holder: { member?: string; pid?: number } = {};
    try {
      holder = JSON.parse(readFileSync(file, 'utf8')) as typeof holder;
    } catch {
      return false;
    }
    const mirror = holder.member === undefined ? undefined : reader.members.get(holder.member);
    const alive = mirror?.alive ?? (typeof holder.pid === 'number' && processAlive(holder.pid, undefined));
    if (alive) return false;
    try {
      unlinkSync(file);
    } catch {
      return false;
    }
  }
  return false;
}

export interface MaintainOptions {
  /** Rewrite even when nothing asks for it (tests). */
  readonly force?: boolean;
  readonly now?: number;
  readonly graceMs?: number;
}

/**
 * One round: refresh the host view; drop the retained rows the host no
 * longer sums and merge the others one per series; take over the dead
 * members nobody took over; rewrite this member's file when any of that
 * changed it, when it is large, or `force`; then clean the directory up.
 */
export function maintain(member: Member, host: HostView, reader: GroupReader, options: MaintainOptions = {}): void {
  const now = options.now ?? Date.now();
  member.flush();
  member.snapshot();
  host.refresh(now);
  const self = reader.members.get(member.key);
  if (self === undefined || self.damaged || self.offset !== member.fileSize) return;
  let changed = false;
  // Retained rows: kept while the host sums them.
  const merged = new Map<string, Accumulated>();
  const byName = new Map<string, InstrumentRecord>();
  for (const i of member.instruments) byName.set(`${i.kind}|${i.name}`, i);
  const own = new Map<number, InstrumentRecord>();
  for (const i of member.instruments) own.set(i.id, i);
  for (const [id, r] of member.retained) {
    const row = self.rows.get(id);
    const instrument = own.get(r.instrumentId);
    member.retained.delete(id);
    if (row === undefined || instrument === undefined || !host.summed(row)) {
      changed = true;
      continue;
    }
    if (accumulate(merged, id, instrument, attributesKey(r.attributes), r.attributes, r.start, r.began, r.lastWrite, r.numbers, r.exponential)) changed = true;
  }
  // Dead members nobody took over: claim, then take their rows that the host sums.
  const adopted = host.adoptedKeys();
  for (const m of reader.members.values()) {
    if (m === self || m.alive || m.header === undefined || adopted.has(m.key)) continue;
    if (!claim(reader.dir, m.key, member, reader)) continue;
    for (const row of m.rows.values()) {
      if (liveOnly(row.instrument) || !host.summed(row)) continue;
      const instrument = ownInstrument(member, host, byName, row.instrument);
      if (instrument !== undefined) accumulate(merged, undefined, instrument, row.key, row.attributes, row.start, row.began, row.active, row.numbers, row.exponential);
    }
    member.adopted.set(m.key, now);
    for (const key of m.adopted.keys()) member.adopted.set(key, now);
    member.exits += 1 + m.adoptedExits;
    changed = true;
  }
  for (const acc of merged.values()) {
    const id = acc.id ?? member.nextRowId();
    member.retained.set(id, {
      id,
      instrumentId: acc.instrument.id,
      attributes: acc.attributes,
      start: acc.start,
      began: acc.began,
      owner: 0,
      numbers: acc.numbers,
      exponential: acc.exponential === undefined ? undefined : flattenExponential(acc.exponential.value() as never),
      lastWrite: acc.active,
      ended: true,
    });
  }
  // Adopted members whose files are gone need not be listed any more.
  for (const key of member.adopted.keys()) {
    if (!reader.members.has(key)) {
      member.adopted.delete(key);
      changed = true;
    }
  }
  if (changed || member.fileSize > member.rewriteAt || options.force === true) member.rewrite();
  cleanUp(reader, host, now, options.graceMs ?? ADOPTED_GRACE_MS);
}

/** The instrument of this member that rows of another member's `r` go to (added when this member has none of that name). */
function ownInstrument(member: Member, host: HostView, byName: Map<string, InstrumentRecord>, r: InstrumentRecord): InstrumentRecord | undefined {
  const known = byName.get(`${r.kind}|${r.name}`);
  const hi = host.instrumentFor(r);
  if (known !== undefined) return hi !== undefined && hi === host.instrumentFor(known) ? known : undefined;
  if (hi === undefined) return undefined;
  const { id: _id, ...fields } = r;
  const id = member.addInstrument(fields);
  const added = member.instruments.find(i => i.id === id)!;
  byName.set(`${r.kind}|${r.name}`, added);
  return added;
}

/** Adds a row into the one kept for its series; true when it merged into another. */
function accumulate(merged: Map<string, Accumulated>, id: number | undefined, instrument: InstrumentRecord, key: string, attributes: Readonly<Record<string, unknown>>, start: number, began: number, active: number, numbers: Float64Array | undefined, exponential: Float64Array | undefined): boolean {
  if (numbers === undefined) return false;
  const k = `${instrument.id}|${key}`;
  let acc = merged.get(k);
  const e = exponential === undefined ? undefined : ExponentialCell.fromValue(unflattenExponential(exponential) as never);
  if (acc === undefined) {
    merged.set(k, { id, instrument, attributes, start, began, active, numbers: Float64Array.from(numbers), exponential: e });
    return false;
  }
  acc.id = undefined;
  acc.start = Math.min(acc.start, start);
  acc.began = Math.min(acc.began, began);
  acc.active = Math.max(acc.active, active);
  if (acc.numbers.length === numbers.length) addNumbers(instrument, acc.numbers, numbers);
  if (e !== undefined) {
    if (acc.exponential === undefined) acc.exponential = e;
    else acc.exponential.merge(e);
  }
  return true;
}

/** Files of members adopted long enough ago, stale claims, and the leftovers of a member that died mid-rewrite. */
function cleanUp(reader: GroupReader, host: HostView, now: number, graceMs: number): void {
  const adopted = host.adoptedKeys();
  let names: string[];
  try {
    names = readdirSync(reader.dir);
  } catch {
    return;
  }
  const latest = new Map<string, number>();
  for (const name of names) {
    const m = FILE_RE.exec(name);
    if (m !== null) latest.set(m[1]!, Math.max(latest.get(m[1]!) ?? 0, Number(m[2])));
  }
  const remove = (name: string) => {
    try {
      unlinkSync(join(reader.dir, name));
    } catch {
      // Removed by another member meanwhile.
    }
  };
  for (const name of names) {
    const file = FILE_RE.exec(name) ?? DATA_RE.exec(name);
    if (file !== null) {
      const key = file[1]!;
      const at = adopted.get(key);
      if (at !== undefined && now - at > graceMs) remove(name);
      else if (Number(file[2]) < latest.get(key)! && reader.members.get(key)?.alive === false) remove(name);
      continue;
    }
    const c = /^c-(.+)$/.exec(name);
    if (c !== null) {
      // A claim outlives its adoption until the adopted file is gone.
      if (adopted.has(c[1]!) && !latest.has(c[1]!)) remove(name);
      continue;
    }
    const t = /^\.m-(.+)\.\d+\.tmp$/.exec(name);
    if (t !== null && reader.members.get(t[1]!)?.alive !== true) {
      try {
        if (now - statSync(join(reader.dir, name)).mtimeMs > graceMs) remove(name);
      } catch {
        // Gone.
      }
    }
  }
}
