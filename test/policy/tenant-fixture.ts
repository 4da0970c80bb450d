// Test fixture for the policy engine: a temp folder with the example schema, given policy files
// and a directory, plus helpers to rewrite them and to catch start-up errors.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { ConfigError } from "../../src/errors.js";
import type { RequestFacts } from "../../src/policy/engine.js";

/** The example tenant, from the repository root (tests run from dist/test/policy). */
export const exampleTenantDir = fileURLToPath(new URL("../../../examples/tenant/", import.meta.url));
export const exampleSchemaFile = join(exampleTenantDir, "policies", "countersign.cedarschema");

type Uid = { type: string; id: string };
export interface EntityInput {
  uid: Uid;
  attrs?: Record<string, unknown>;
  parents?: Uid[];
}

const acme: Uid = { type: "Tenant", id: "acme" };
const globex: Uid = { type: "Tenant", id: "globex" };

function user(id: string, tenant: Uid, roles: string[]): EntityInput {
  return {
    uid: { type: "User", id },
    attrs: { tenant, email: `${id}@example.test`, slackUserId: `U0${id.toUpperCase()}` },
    parents: roles.map((role) => ({ type: "Role", id: role })),
  };
}

/** A small directory like the example tenant's: alice/dave support, bob/carol approvers, erin in globex. */
export function defaultEntities(): EntityInput[] {
  return [
    { uid: acme },
    { uid: globex },
    { uid: { type: "Role", id: "support" } },
    { uid: { type: "Role", id: "payments-approver" } },
    { uid: { type: "Role", id: "finance" } },
    user("alice", acme, ["support"]),
    user("bob", acme, ["payments-approver"]),
    user("carol", acme, ["payments-approver", "finance"]),
    user("dave", acme, ["support"]),
    user("erin", globex, ["payments-approver"]),
    { uid: { type: "Tool", id: "payments.refund" }, attrs: { risk: "high" } },
    { uid: { type: "Resource", id: "acme-order" }, attrs: { tenant: acme, owner: { type: "User", id: "alice" } } },
    { uid: { type: "Resource", id: "globex-order" }, attrs: { tenant: globex, owner: { type: "User", id: "erin" } } },
  ];
}

/** Facts of a typical request by alice in acme; override what the test is about. */
export function facts(overrides: Partial<RequestFacts> = {}): RequestFacts {
  return {
    tenant: "acme",
    principal: "alice",
    agent: "spiffe://demo.test/agents/support-bot",
    tool: "payments.refund",
    taskId: "ticket-1042",
    summary: "Refund the duplicate charge",
    argsSha256: "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
    ...overrides,
  };
}

export interface TenantFixture {
  root: string;
  policiesDir: string;
  directoryFile: string;
  /** Write (or overwrite) a policy folder file by name. */
  writePolicy(name: string, text: string): void;
  removePolicy(name: string): void;
  writeDirectory(entities: EntityInput[]): void;
  /** Write the directory file's raw text. */
  writeDirectoryText(text: string): void;
  cleanup(): void;
}

/** A temp tenant with the example schema, the given policy files and directory (YAML). */
export function makeTenant(policies: Record<string, string>, entities: EntityInput[] = defaultEntities()): TenantFixture {
  const root = mkdtempSync(join(tmpdir(), "countersign-policy-"));
  const policiesDir = join(root, "policies");
  const directoryFile = join(root, "directory.yaml");
  mkdirSync(policiesDir);
  copyFileSync(exampleSchemaFile, join(policiesDir, "countersign.cedarschema"));
  const fixture: TenantFixture = {
    root,
    policiesDir,
    directoryFile,
    writePolicy: (name, text) => writeFileSync(join(policiesDir, name), text),
    removePolicy: (name) => rmSync(join(policiesDir, name)),
    writeDirectory: (list) => writeFileSync(directoryFile, stringify(list)),
    writeDirectoryText: (text) => writeFileSync(directoryFile, text),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
  for (const [name, text] of Object.entries(policies)) fixture.writePolicy(name, text);
  fixture.writeDirectory(entities);
  return fixture;
}

/** Run `fn`, expect a ConfigError `config_invalid`, and return its message. */
export function configErrorOf(fn: () => unknown): string {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.code, "config_invalid");
  return caught.message;
}
