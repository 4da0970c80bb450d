// Change detection for files reloaded while running (policies, directory, grant keys), without a watcher: a stat signature
// compared on every decision, plus a content re-check while the last read was too close to a
// write for timestamps to be trusted (the "racy clean" problem git solves the same way).
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";

/**
 * File timestamps come from a coarse kernel clock (a few ms, up to seconds on some file systems):
 * a second same-size write within that window keeps the signature. Reads closer than this to
 * the newest modification are re-checked by content until they are older than the window.
 */
const RACY_WINDOW_NS = 2_000_000_000n;

/** What one read of the watched files saw. */
export interface FileSetRead {
  /** The files in listing order with their UTF-8 text; empty when `error` is set. */
  files: Array<{ path: string; text: string }>;
  /** `sha256:<hex>` over each file's base name and bytes (the empty set when `error` is set). */
  contentHash: string;
  /** Why the files could not be listed or read, if they could not. */
  error: string | undefined;
}

interface Stamp {
  signature: string;
  paths: string[];
  newestMtimeNs: bigint;
  error: string | undefined;
}

interface Observation {
  signature: string;
  contentHash: string;
  racy: boolean;
}

function nowNs(): bigint {
  // Wall clock on purpose: file timestamps use the same (real-time) clock.
  return BigInt(Date.now()) * 1_000_000n;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function takeStamp(listPaths: () => string[]): Stamp {
  let paths: string[];
  try {
    paths = listPaths();
  } catch (err) {
    return { signature: `unlistable:${messageOf(err)}`, paths: [], newestMtimeNs: 0n, error: messageOf(err) };
  }
  let newestMtimeNs = 0n;
  const parts = paths.map((path) => {
    const stat = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (stat === undefined) return `${path}\0missing`;
    if (stat.mtimeNs > newestMtimeNs) newestMtimeNs = stat.mtimeNs;
    // ctime and inode catch replacements that keep mtime and size (cp -p, rename-into-place).
    return `${path}\0${stat.mtimeNs}\0${stat.ctimeNs}\0${stat.size}\0${stat.ino}`;
  });
  return { signature: parts.join("\n"), paths, newestMtimeNs, error: undefined };
}

function hashFiles(files: Array<{ path: string; bytes: Buffer }>): string {
  const hash = createHash("sha256");
  for (const { path, bytes } of files) {
    hash.update(`${basename(path)}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  return `sha256:${hash.digest("hex")}`;
}

/**
 * A set of files (re-listed on every check) and what was last read from them. `read()` records
 * the stat signature *before* reading, so a write that lands during the read is seen as a change
 * by the next `changed()`.
 */
export class WatchedFiles {
  readonly #listPaths: () => string[];
  #last: Observation | undefined;

  /** `listPaths` returns absolute paths in a stable order; it may throw (reported as a read error). */
  constructor(listPaths: () => string[]) {
    this.#listPaths = listPaths;
  }

  /** Read every file now and remember what was seen. Never throws: failures are in `error`. */
  read(): FileSetRead {
    const startedNs = nowNs();
    const stamp = takeStamp(this.#listPaths);
    const unreadable = (error: string): FileSetRead => {
      const contentHash = hashFiles([]);
      this.#last = { signature: stamp.signature, contentHash, racy: false };
      return { files: [], contentHash, error };
    };
    if (stamp.error !== undefined) return unreadable(stamp.error);
    let contents: Array<{ path: string; bytes: Buffer }>;
    try {
      contents = stamp.paths.map((path) => ({ path, bytes: readFileSync(path) }));
    } catch (err) {
      return unreadable(messageOf(err));
    }
    const contentHash = hashFiles(contents);
    this.#last = { signature: stamp.signature, contentHash, racy: stamp.newestMtimeNs + RACY_WINDOW_NS >= startedNs };
    return { files: contents.map(({ path, bytes }) => ({ path, text: bytes.toString("utf8") })), contentHash, error: undefined };
  }

  /** Whether the files may differ from the last `read()` (always true before the first read). */
  changed(): boolean {
    const last = this.#last;
    if (last === undefined) return true;
    const startedNs = nowNs();
    const stamp = takeStamp(this.#listPaths);
    if (stamp.signature !== last.signature) return true;
    if (!last.racy) return false;
    let contentHash: string;
    try {
      contentHash = hashFiles(stamp.paths.map((path) => ({ path, bytes: readFileSync(path) })));
    } catch {
      return true;
    }
    if (contentHash !== last.contentHash) return true;
    last.racy = stamp.newestMtimeNs + RACY_WINDOW_NS >= startedNs;
    return false;
  }
}
