// Shared fixtures for the grant tests: temp key files and a valid grant input.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GrantInput } from "../../src/grants/claims.js";

/** A fresh key file path inside a new temp dir (the file itself does not exist). */
export function tempKeyFile(name = "grant-keys.json"): string {
  return join(mkdtempSync(join(tmpdir(), "countersign-grants-")), "nested", name);
}

export const ISSUER = "https://countersign.test";

export function grantInput(overrides: Partial<GrantInput> = {}): GrantInput {
  return {
    audience: "spiffe://tools.test/payments",
    principal: "alice@example.com",
    agent: "spiffe://agents.test/support-bot",
    tenant: "acme",
    tool: "payments.refund",
    argsSha256: "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",
    approvalId: "appr-123",
    approvers: ["bob@example.com"],
    policyVersion: "sha256:abc",
    ...overrides,
  };
}
