// Redaction of tool arguments for approvers' views, per the tool catalog's `redact` rules.
import type { Json } from "../../workflows/definitions.js";

/** What a redacted value is replaced with. */
export const REDACTED = "[redacted]";

/**
 * A copy of `args` with the listed fields replaced by {@link REDACTED}. A rule with a dot is a path
 * from the root (`card.number`); a rule without one is a key matched at any depth (`card_number`).
 * Array elements are walked but not addressed by index.
 */
export function redactArguments(args: Json, rules: readonly string[]): Json {
  const anywhere = new Set(rules.filter((r) => !r.includes(".")));
  const paths = new Set(rules.filter((r) => r.includes(".")));
  const walk = (value: Json, path: string[]): Json => {
    if (Array.isArray(value)) return value.map((v) => walk(v, path));
    if (value === null || typeof value !== "object") return value;
    // fromEntries defines own properties: a key `__proto__` stays a field instead of setting the prototype.
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => {
        const here = [...path, key];
        return [key, anywhere.has(key) || paths.has(here.join(".")) ? REDACTED : walk(v, here)];
      }),
    );
  };
  return walk(args, []);
}
