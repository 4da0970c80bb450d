// Loads the policy folder: exactly one Cedar schema and every *.cedar file, each parsed, validated
// against the schema and its routing annotations checked, then pre-parsed into Cedar's cache
// under an id derived from the content hash, so evaluation never re-parses policies.
import { entityRefsIn, type EntityUid } from "./directory.js";
import {
  checkParseSchema,
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  preparseSchema,
  validate,
  type DetailedError,
} from "./cedar.js";
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { ConfigError } from "../errors.js";
import { parsePolicyRouting, type PolicyRouting } from "./annotations.js";
import { describeCedarError, lineColumnAtChar } from "./source-location.js";
import type { FileSetRead } from "../watched-files.js";

/** A validated policy set, ready for `statefulIsAuthorized`. */
export interface LoadedPolicySet {
  /** `sha256:<hex>` of the policy files and the schema (names and bytes). */
  version: string;
  /** Name of both the pre-parsed schema and the pre-parsed policy set in Cedar's cache. */
  preparsedId: string;
  /** The schema text (Cedar syntax), used to validate the directory's entities. */
  schemaText: string;
  /**
   * The entities the policies name as a literal *and read*: an attribute, a tag or its ancestors
   * (`Role::"x".attr`, `Role::"x" in …`). Evaluations start from them too. A literal only compared
   * (`resource == Tool::"…"`, `principal in Role::"support"`) needs no data and is not listed.
   */
  entityLiterals: EntityUid[];
  /** Routing annotations of every policy, by policy id. */
  routing: ReadonlyMap<string, PolicyRouting>;
}

interface SourcePolicy {
  text: string;
  /** Character index of the policy's first character in its file. */
  charIndex: number;
}

/**
 * The files the engine loads from `dir`: `*.cedar` and `*.cedarschema`, sorted by name, hidden
 * (dot) files skipped so editor lock files never count. Throws when the folder cannot be listed.
 */
/** Operators of Cedar's JSON policy form whose left operand's entity data Cedar reads. */
const READS_LEFT = new Set([".", "has", "in", "getTag", "hasTag", "is"]);

/**
 * The entity literals inside the left operand of an operator that reads entity data, in a policy's
 * JSON form (conservatively: every literal anywhere inside such an operand).
 */
export function literalsWhoseDataIsRead(policyJson: unknown): EntityUid[] {
  const found: EntityUid[] = [];
  const walk = (node: unknown, reading: boolean): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, reading);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const record = node as Record<string, unknown>;
    // A literal in the JSON form is `{"__entity": {type, id}}`.
    if (reading && record.__entity !== undefined) entityRefsIn(record.__entity, found);
    for (const [key, value] of Object.entries(record)) {
      if (READS_LEFT.has(key) && value !== null && typeof value === "object" && "left" in value) {
        const { left, ...rest } = value as Record<string, unknown>;
        walk(left, true);
        walk(rest, reading);
      } else walk(value, reading);
    }
  };
  walk(policyJson, false);
  return found;
}

export function listPolicyFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith(".") && (name.endsWith(".cedar") || name.endsWith(".cedarschema")))
    .sort()
    .map((name) => join(dir, name));
}

function invalid(message: string): ConfigError {
  return new ConfigError("config_invalid", message);
}

function where(file: { path: string; text: string }, charIndex: number): string {
  const { line, column } = lineColumnAtChar(file.text, charIndex);
  return `${file.path}:${line}:${column}`;
}

/**
 * Split a file into its policies in source order. Cedar names a file's policies `policy0…policyN`
 * in source order and `policySetTextToParts` returns them sorted by that id as text (policy10
 * before policy2); undo that sort, then locate each policy's text in the file (it is an exact
 * slice), which also proves the order.
 */
function splitPolicies(file: { path: string; text: string }, problems: string[]): SourcePolicy[] | undefined {
  const parts = policySetTextToParts(file.text);
  if (parts.type === "failure") {
    problems.push(...parts.errors.map((e) => describeCedarError(file.path, file.text, e)));
    return undefined;
  }
  for (const template of parts.policy_templates) {
    problems.push(`${where(file, Math.max(0, file.text.indexOf(template)))}: templates (policies with ?principal or ?resource slots) are not supported`);
  }
  const sortedIds = parts.policies.map((_, ordinal) => `policy${ordinal}`).sort();
  const inOrder: string[] = [];
  sortedIds.forEach((id, k) => {
    inOrder[Number(id.slice("policy".length))] = parts.policies[k] ?? "";
  });
  const policies: SourcePolicy[] = [];
  let searchFrom = 0;
  for (const text of inOrder) {
    const charIndex = file.text.indexOf(text, searchFrom);
    if (charIndex < 0) {
      problems.push(`${file.path}: cannot locate policy ${policies.length} in the file`);
      return undefined;
    }
    policies.push({ text, charIndex });
    searchFrom = charIndex + text.length;
  }
  return policies;
}

function validateFile(file: { path: string; text: string }, schemaText: string, ids: string[], problems: string[]): void {
  const answer = validate({ schema: schemaText, policies: { staticPolicies: file.text }, validationSettings: { mode: "strict" } });
  if (answer.type === "failure") {
    problems.push(...answer.errors.map((e) => describeCedarError(file.path, file.text, e)));
    return;
  }
  for (const { policyId, error } of answer.validationErrors) {
    // Cedar names policies by position (policyN) when it validates one file; show our id instead.
    const ourId = ids[Number(policyId.replace(/^policy/, ""))] ?? policyId;
    const message = error.message.replace(`policy \`${policyId}\``, `policy \`${ourId}\``);
    problems.push(describeCedarError(file.path, file.text, { ...error, message }));
  }
}

function cedarFailure(what: string, errors: DetailedError[]): ConfigError {
  return invalid(`${what}: ${errors.map((e) => e.message).join("; ")}`);
}

/**
 * Build the policy set from one read of the policy folder.
 *
 * Policy ids: a policy's `@id("…")` annotation when it has one, else `<file name>:<index>` with
 * the 0-based position of the policy in its file (`payments.cedar:0`). Give long-lived policies
 * an `@id` so their ids survive edits above them. Ids must be unique across the folder.
 *
 * @throws ConfigError `config_invalid` naming the folder or the file (and line:column when Cedar
 * reports one) for: unreadable files, not exactly one `*.cedarschema`, no `*.cedar` file, a schema
 * or policy that does not parse, a policy that does not validate against the schema (strict
 * mode), templates, duplicate ids, and invalid routing annotation values (a `@deadline_seconds`
 * above `opts.maxDeadlineSeconds` included).
 */
export function loadPolicySet(dir: string, read: FileSetRead, opts: { maxDeadlineSeconds?: number } = {}): LoadedPolicySet {
  if (read.error !== undefined) throw invalid(`cannot read the policy folder ${dir}: ${read.error}`);
  const schemas = read.files.filter((f) => f.path.endsWith(".cedarschema"));
  const policyFiles = read.files.filter((f) => f.path.endsWith(".cedar"));
  const schema = schemas[0];
  if (schema === undefined || schemas.length > 1) {
    const found = schemas.length === 0 ? "none" : schemas.map((f) => basename(f.path)).join(", ");
    throw invalid(`policy folder ${dir} must hold exactly one *.cedarschema file (Cedar schema syntax); found ${found}`);
  }
  if (policyFiles.length === 0) throw invalid(`policy folder ${dir} holds no *.cedar policy file`);
  const schemaCheck = checkParseSchema(schema.text);
  if (schemaCheck.type === "failure") {
    throw invalid(`invalid Cedar schema ${schemaCheck.errors.map((e) => describeCedarError(schema.path, schema.text, e)).join("; ")}`);
  }

  const problems: string[] = [];
  // A Map, not an object: a policy `@id("__proto__")` assigned into `{}` would vanish from the set.
  const texts = new Map<string, string>();
  const routing = new Map<string, PolicyRouting>();
  const literals = new Map<string, EntityUid>();
  for (const file of policyFiles) {
    const policies = splitPolicies(file, problems);
    if (policies === undefined) continue;
    const ids: string[] = [];
    policies.forEach((policy, ordinal) => {
      const json = policyToJson(policy.text);
      if (json.type === "failure") {
        problems.push(...json.errors.map((e) => `${where(file, policy.charIndex)}: ${e.message}`));
        return;
      }
      for (const ref of literalsWhoseDataIsRead(json.json)) literals.set(`${ref.type}::${JSON.stringify(ref.id)}`, ref);
      const annotations = json.json.annotations ?? {};
      const id = annotations.id ?? `${basename(file.path)}:${ordinal}`;
      ids.push(id);
      if (id.trim() === "") {
        problems.push(`${where(file, policy.charIndex)}: @id must not be empty`);
      } else if (texts.has(id)) {
        problems.push(`${where(file, policy.charIndex)}: policy id "${id}" is used twice`);
      }
      try {
        const parsed = parsePolicyRouting(annotations);
        if (opts.maxDeadlineSeconds !== undefined && parsed.deadlineSeconds !== undefined && parsed.deadlineSeconds > opts.maxDeadlineSeconds) {
          throw new Error(`@deadline_seconds ${parsed.deadlineSeconds} exceeds approvals.maxDeadlineSeconds (${opts.maxDeadlineSeconds})`);
        }
        routing.set(id, parsed);
      } catch (err) {
        problems.push(`${where(file, policy.charIndex)}: policy "${id}": ${(err as Error).message}`);
      }
      texts.set(id, policy.text);
    });
    if (ids.length === policies.length) validateFile(file, schema.text, ids, problems);
  }
  if (problems.length > 0) throw invalid(`invalid policies in ${dir}:\n  ${problems.join("\n  ")}`);

  // Cedar keeps each pre-parsed set for the life of the process (there is no eviction call): one
  // per distinct policy version, so the cost grows with edits, not with decisions.
  const preparsedId = `countersign-${read.contentHash}`;
  const schemaAnswer = preparseSchema(preparsedId, schema.text);
  if (schemaAnswer.type === "failure") throw cedarFailure(`cannot load the Cedar schema ${schema.path}`, schemaAnswer.errors);
  const setAnswer = preparsePolicySet(preparsedId, { staticPolicies: Object.fromEntries(texts) });
  if (setAnswer.type === "failure") throw cedarFailure(`cannot load the policies in ${dir}`, setAnswer.errors);
  return { version: read.contentHash, preparsedId, schemaText: schema.text, routing, entityLiterals: [...literals.values()] };
}
