// Turns Cedar's byte offsets into `file:line:column` so start-up errors point at the bad text.
import type { DetailedError } from "./cedar.js";

/** 1-based line and column of a UTF-16 character index in `text`. */
export function lineColumnAtChar(text: string, charIndex: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, charIndex));
  const lastNewline = before.lastIndexOf("\n");
  return { line: before.split("\n").length, column: charIndex - lastNewline };
}

/** 1-based line and column of a UTF-8 byte offset in `text` (Cedar reports byte offsets). */
export function lineColumnAtByte(text: string, byteOffset: number): { line: number; column: number } {
  const charIndex = Buffer.from(text, "utf8").subarray(0, Math.max(0, byteOffset)).toString("utf8").length;
  return lineColumnAtChar(text, charIndex);
}

/**
 * One readable line for a Cedar error found in `file`: `file:line:column: message (help)`.
 * `baseByteOffset` is added to Cedar's offsets when the checked text starts inside the file.
 */
export function describeCedarError(file: string, text: string, error: DetailedError, baseByteOffset = 0): string {
  const location = error.sourceLocations?.[0];
  const where =
    location === undefined
      ? file
      : (({ line, column }) => `${file}:${line}:${column}`)(lineColumnAtByte(text, baseByteOffset + location.start));
  const notes = [location?.label, error.help].filter((note): note is string => typeof note === "string" && note !== "");
  return `${where}: ${error.message}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`;
}
