import { readdirSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { readTextOrNull, writeFileAtomic } from './fs-atomic.js';
import { procStat, startTimeOf } from './procfs.js';

/** A process group hop3 started, named so that a later daemon can find it again. */
export interface GroupRecord {
  pgid: number;
  /** The leader's start time (/proc/PID/stat, clock ticks since boot): tells a recycled pid apart. */
  startTime: string;
  what: string;
}


/** Record a group before anything waits on it (atomic: a reader sees all of it or nothing). */
export function recordGroup(file: string, pgid: number, what: string): void {
  const startTime = startTimeOf(pgid);
  if (startTime === null) return; // already gone: nothing to find later
  writeFileAtomic(file, `${JSON.stringify({ pgid, startTime, what } satisfies GroupRecord)}\n`, 0o600);
}

/** Live (not zombie) members of a group: zombies no longer run, and an absent reaper keeps them. */
function members(pgid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const s = procStat(name);
    if (s && s.pgrp === pgid && s.state !== 'Z') found.push(Number(name));
  }
  return found;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // gone meanwhile
  }
}

async function goneWithin(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (members(pgid).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

/** How long a group that is being stopped gets to clean up (its SIGTERM traps) before SIGKILL. */
export const GROUP_GRACE_MS = 5000;

/** SIGTERM to the whole group, SIGKILL to what is left after `graceMs`; resolves once it is gone. */
export async function stopGroup(pgid: number, graceMs = GROUP_GRACE_MS): Promise<void> {
  signalGroup(pgid, 'SIGTERM');
  if (!(await goneWithin(pgid, graceMs))) {
    signalGroup(pgid, 'SIGKILL');
    await goneWithin(pgid, 10_000);
  }
}

/**
 * Whether the group recorded in `file` still runs: by looking at /proc (no signal is sent), with
 * the same test as stopRecordedGroup's, so a recycled pid is not taken for it. False when there is
 * no record or it cannot be read.
 */
export function recordedGroupRuns(file: string): boolean {
  const rec = readRecord(file);
  return rec !== null && groupRuns(rec);
}

function groupRuns(rec: GroupRecord): boolean {
  const leader = procStat(rec.pgid);
  // A zombie leader runs nothing (its parent has not reaped it yet); what its group holds may.
  if (leader === null || leader.state === 'Z') return members(rec.pgid).length > 0;
  return leader.startTime === rec.startTime;
}

function readRecord(file: string): GroupRecord | null {
  const text = readTextOrNull(file);
  if (text === null) return null;
  try {
    const rec = JSON.parse(text) as GroupRecord;
    return Number.isInteger(rec.pgid) && rec.pgid > 1 ? rec : null;
  } catch {
    return null;
  }
}

/**
 * Stop what is left of a recorded group (a daemon that was killed left it running) and wait
 * until it is gone: TERM first, so it can clean up, KILL after `graceMs`. The group is only
 * signalled while it is provably the recorded one: its leader has the recorded start time, or
 * the leader is gone and members remain (the kernel keeps a pid from reuse while a group bears
 * its number). A recycled pid leads another group, which is never touched. Returns what it
 * stopped, or null.
 */
export async function stopRecordedGroup(file: string, graceMs = GROUP_GRACE_MS): Promise<GroupRecord | null> {
  if (readTextOrNull(file) === null) return null;
  const rec = readRecord(file);
  if (rec === null) {
    rmSync(file, { force: true });
    return null;
  }
  const ours = groupRuns(rec);
  if (ours) await stopGroup(rec.pgid, graceMs);
  rmSync(file, { force: true });
  return ours ? rec : null;
}

