// Reading and writing the JSON key files (grant-signing keys, payload encryption keys): files are
// created owner-only (0600), replaced atomically, and validated with zod on every read. Errors name
// the file and the offending field, never key material.
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { z } from "zod";
import { ConfigError } from "../errors.js";

/** File mode of every key file we write: owner read/write only. */
export const KEY_FILE_MODE = 0o600;

/**
 * Read and validate a key file. `what` names the file in messages ("grant key file").
 * @throws ConfigError `key_file_invalid` when the file is missing, unreadable, not JSON or not of the schema.
 */
export async function readKeyFile<S extends z.ZodType>(file: string, schema: S, what: string): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === "ENOENT";
    throw new ConfigError("key_file_invalid", missing ? `${what} ${file} does not exist` : `cannot read ${what} ${file}`, { cause });
  }
  return parseKeyJson(text, schema, `${what} ${file}`);
}

/**
 * Parse key JSON text (from a file or an environment variable) against `schema`. `source` names it
 * in messages. The JSON parser's own message is dropped: it can quote the text, which holds keys.
 * @throws ConfigError `key_file_invalid`.
 */
export function parseKeyJson<S extends z.ZodType>(text: string, schema: S, source: string): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError("key_file_invalid", `${source} is not valid JSON`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    // Issue messages name paths and expected shapes only; zod does not echo input values in them.
    const issues = parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`).join("; ");
    throw new ConfigError("key_file_invalid", `${source} is invalid: ${issues}`);
  }
  return parsed.data;
}

/**
 * Whether the key file exists. `what` names it in messages.
 * @throws ConfigError `key_file_invalid` when it cannot be checked (permissions, not a directory…).
 */
export async function keyFileExists(file: string, what: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new ConfigError("key_file_invalid", `cannot read ${what} ${file}`, { cause: err });
  }
}

async function writeTemp(file: string, value: unknown): Promise<string> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temp, "wx", KEY_FILE_MODE);
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`, "utf8");
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  return temp;
}

/**
 * Flush the directory entry after a rename or link: without it a crash can lose a key that has
 * already encrypted histories or signed grants.
 */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Atomically replace `file` with `value` as JSON (temp file, fsync, rename), mode 0600. */
export async function replaceKeyFile(file: string, value: unknown): Promise<void> {
  const temp = await writeTemp(file, value);
  try {
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(file));
}

/**
 * Create `file` with `value` only if it does not exist yet, atomically (temp file + hard link, which
 * never overwrites). Returns false when another process created it first; its keys then win.
 */
export async function createKeyFileIfMissing(file: string, value: unknown): Promise<boolean> {
  const temp = await writeTemp(file, value);
  try {
    await link(temp, file);
    await syncDir(dirname(file));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}
