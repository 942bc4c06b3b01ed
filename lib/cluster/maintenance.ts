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
import { flattenExponential, unflattenExponential, type InstrumentRecord } from './journal';
import { processAlive } from './identity';
import type { HostView } from './host';
import type { Member, RewriteRow } from './member';
import { FILE_RE, type GroupReader, type MemberMirror, type MirrorRow } from './reader';

/** Every live member maintains the directory this often. */
export const MAINTAIN_MS = 30_000;
/** An adopted member's file is removed this long after its adoption (a reader may have listed it just before). */
export const ADOPTED_GRACE_MS = 60_000;

/** In-flight counts and node up: a member that ended has none to keep. */
function liveOnly(r: InstrumentRecord): boolean {
  return r.kind === 'observed' && r.observedKind !== 'counter';
}

interface Accumulated {
  instrumentId: number;
  instrument: InstrumentRecord;
  attributes: Readonly<Record<string, unknown>>;
  start: number;
  began: number;
  active: number;
  numbers: Float64Array | undefined;
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
 * One round: refresh the host view, adopt the dead members nobody adopted,
 * rewrite this member's file when it adopts, is large, or `force`; then
 * clean the directory up.
 */
export function maintain(member: Member, host: HostView, reader: GroupReader, options: MaintainOptions = {}): void {
  const now = options.now ?? Date.now();
  member.flush();
  member.snapshot();
  host.refresh(now);
  const self = reader.members.get(member.key);
  if (self === undefined || self.damaged || self.offset !== member.fileSize) return;
  const adopted = host.adoptedKeys();
  const toAdopt: MemberMirror[] = [];
  for (const m of reader.members.values()) {
    if (m === self || m.alive || m.header === undefined || adopted.has(m.key)) continue;
    if (claim(reader.dir, m.key, member, reader)) toAdopt.push(m);
  }
  if (toAdopt.length > 0 || member.fileSize > member.rewriteAt || options.force === true) {
    rewrite(member, host, reader, self, toAdopt, now);
  }
  cleanUp(reader, host, now, options.graceMs ?? ADOPTED_GRACE_MS);
}

function rewrite(member: Member, host: HostView, reader: GroupReader, self: MemberMirror, toAdopt: readonly MemberMirror[], now: number): void {
  const rows: RewriteRow[] = [];
  // Ended rows still summed, one per series: keyed by the instrument (of this member) and the attributes.
  const merged = new Map<string, Accumulated>();
  const byName = new Map<string, InstrumentRecord>();
  for (const i of member.instruments) byName.set(`${i.kind}|${i.name}`, i);
  const ownInstrument = (r: InstrumentRecord): InstrumentRecord | undefined => {
    const known = byName.get(`${r.kind}|${r.name}`);
    const hi = host.instrumentFor(r);
    if (known !== undefined) return hi !== undefined && hi === host.instrumentFor(known) ? known : undefined;
    if (hi === undefined) return undefined;
    const { id: _id, ...fields } = r;
    const id = member.addInstrument(fields);
    const added = member.instruments.find(i => i.id === id)!;
    byName.set(`${r.kind}|${r.name}`, added);
    return added;
  };
  const keep = (row: MirrorRow, instrument: InstrumentRecord) => {
    if (row.numbers === undefined) return;
    const key = `${instrument.id}|${row.key}`;
    let acc = merged.get(key);
    if (acc === undefined) {
      acc = { instrumentId: instrument.id, instrument, attributes: row.attributes, start: row.start, began: row.began, active: row.active, numbers: Float64Array.from(row.numbers), exponential: undefined };
      merged.set(key, acc);
    } else {
      acc.start = Math.min(acc.start, row.start);
      acc.began = Math.min(acc.began, row.began);
      acc.active = Math.max(acc.active, row.active);
      if (acc.numbers!.length === row.numbers.length) addNumbers(instrument, acc.numbers!, row.numbers);
    }
    if (row.exponential !== undefined) {
      const e = ExponentialCell.fromValue(unflattenExponential(row.exponential) as never);
      if (acc.exponential === undefined) acc.exponential = e;
      else acc.exponential.merge(e);
    }
  };
  for (const row of self.rows.values()) {
    if (!row.ended) {
      rows.push({ id: row.id, instrumentId: row.instrument.id, attributes: row.attributes, start: row.start, began: row.began, owner: row.owner, numbers: row.numbers, exponential: row.exponential, lastWrite: row.lastWrite, ended: false });
    } else if (!liveOnly(row.instrument) && host.summed(row)) {
      keep(row, row.instrument);
    }
  }
  for (const m of toAdopt) {
    for (const row of m.rows.values()) {
      if (liveOnly(row.instrument) || !host.summed(row)) continue;
      const instrument = ownInstrument(row.instrument);
      if (instrument !== undefined) keep(row, instrument);
    }
  }
  for (const acc of merged.values()) {
    rows.push({
      id: member.nextRowId(),
      instrumentId: acc.instrumentId,
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
  // Adopted so far (while their files remain), and now; exits: each adopted member and those it had counted.
  const members: [string, number][] = [];
  for (const [key, time] of self.adopted) if (reader.members.has(key)) members.push([key, time]);
  let exits = self.adoptedExits;
  for (const m of toAdopt) {
    members.push([m.key, now]);
    for (const [key] of m.adopted) members.push([key, now]);
    exits += 1 + m.adoptedExits;
  }
  member.rewrite(rows, self.owners, { members, exits });
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
    const file = FILE_RE.exec(name);
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
