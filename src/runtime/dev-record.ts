// The record a running `countersign dev` keeps in its state dir (`dev.json`), so that operator
// commands in a second terminal find its config file and Temporal server without flags (see README, Commands).
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";

/** The record's file name inside the state dir. */
export const DEV_RECORD_FILE = "dev.json";

export const DevRecordSchema = z.strictObject({
  /** Absolute path of the config file `dev` runs with. */
  configFile: z.string().min(1),
  /** Absolute path of the state dir (Temporal's database, keys, this record). */
  stateDir: z.string().min(1),
  /** host:port of the embedded Temporal dev server. */
  temporalAddress: z.string().min(1),
  temporalNamespace: z.string().min(1),
  /** Base URL of the HTTP server. */
  serverUrl: z.string().min(1),
  /** The `dev` process; a record whose process is gone is ignored. */
  pid: z.number().int().positive(),
});
export type DevRecord = z.infer<typeof DevRecordSchema>;

/** Path of the record in `stateDir` (relative to the working directory unless absolute). */
export function devRecordFile(stateDir: string): string {
  return resolve(stateDir, DEV_RECORD_FILE);
}

/**
 * Record a ready `dev` process in `<record.stateDir>/dev.json`. Written to a fresh temp file with
 * mode 0600 and renamed over the old record, so a reader sees a whole record or none. The state dir
 * must exist. Throws the file system's error when it cannot write.
 */
export function writeDevRecord(record: DevRecord): void {
  const file = devRecordFile(record.stateDir);
  const temp = `${file}.${process.pid}.tmp`;
  // A leftover temp file would keep its old mode: start from none.
  rmSync(temp, { force: true });
  writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  renameSync(temp, file);
}

/**
 * Remove the record in `stateDir` if this process wrote it; a record of another `dev` stays.
 * Called on shutdown; never throws (a record left behind names a dead process and is ignored).
 */
export function removeDevRecord(stateDir: string): void {
  const file = devRecordFile(stateDir);
  try {
    if (parseRecordFile(file)?.pid === process.pid) rmSync(file, { force: true });
  } catch {
    // See above: readers skip a record whose process is gone.
  }
}

/**
 * The running `countersign dev` recorded in `stateDir` (default `.countersign`, relative to the
 * working directory), or undefined when there is no record, it cannot be read or parsed, it is not
 * this user's private file (mode 0600, as written), it names a server off this machine, or its
 * process is no longer alive (a `dev` that was killed cannot remove its record).
 */
export function readDevRecord(stateDir = ".countersign"): DevRecord | undefined {
  const record = parseRecordFile(devRecordFile(stateDir));
  return record !== undefined && isAlive(record.pid) ? record : undefined;
}

/**
 * Whether `file` looks like a record `writeDevRecord` wrote: owned by this user and private (mode
 * 0600 or stricter). A record that came with a cloned repository (mode 0644), or that another user
 * put in a shared directory, must not tell the CLI where to send an approver's token.
 */
function writtenByThisUser(file: string): boolean {
  const uid = process.getuid?.();
  const stat = statSync(file);
  return (uid === undefined || stat.uid === uid) && (stat.mode & 0o077) === 0;
}

/** `countersign dev` listens on this machine only: its record never names another host. */
function isLocalUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost", "0.0.0.0", "[::]"].includes(u.hostname);
  } catch {
    return false;
  }
}

function isLocalAddress(address: string): boolean {
  return isLocalUrl(`http://${address}`);
}

function parseRecordFile(file: string): DevRecord | undefined {
  let raw: unknown;
  try {
    if (!writtenByThisUser(file)) return undefined;
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
  const parsed = DevRecordSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  return isLocalUrl(parsed.data.serverUrl) && isLocalAddress(parsed.data.temporalAddress) ? parsed.data : undefined;
}

/** Whether a process with this id exists (signal 0 checks without signalling; EPERM means it exists but is not ours). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
