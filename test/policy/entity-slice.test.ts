// Cedar gets only the entities a request can reach (Directory.reachable), not the whole directory:
// decisions must be identical to the all-entities evaluation, on the example tenant and on generated
// tenants (property test), and the slice must stay small as the directory grows.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { decideApproval } from "../../src/policy/authorize-approval.js";
import { decideRequest } from "../../src/policy/authorize-request.js";
import { parseDirectory, type Directory } from "../../src/policy/directory.js";
import type { RequestFacts } from "../../src/policy/engine.js";
import { listPolicyFiles, loadPolicySet, type LoadedPolicySet } from "../../src/policy/policy-set.js";
import { WatchedFiles } from "../../src/watched-files.js";
import { exampleTenant } from "../support/stack.js";

/** Policies that reach far: attribute chains through the target and its owner, and role ancestry. */
const PROBE_POLICIES = `
@id("probe-owner-may-search")
permit (principal, action == Action::"request", resource == Tool::"kb.search")
when { context has target && context.target.owner == principal && context.target.owner.tenant == context.tenant };

@id("probe-nested-role-forbid")
forbid (principal in Role::"r1", action == Action::"request", resource == Tool::"payments.lookup");

@id("probe-approver-of-own-tenant-resource")
forbid (principal, action == Action::"approve", resource)
when { context has target && context.target.owner.tenant != principal.tenant };

@id("probe-literal-attribute")
forbid (principal, action == Action::"request", resource == Tool::"kb.search")
when { Tool::"prod.db.drop" has risk && Tool::"prod.db.drop".risk == "critical" && principal in Role::"payments-approver" };

@id("probe-literal-ancestry")
forbid (principal, action == Action::"request", resource == Tool::"payments.refund")
when { Role::"r2" in Role::"support" && context.taskId == "t" };
`;

function loadPolicies(dir: string): LoadedPolicySet {
  return loadPolicySet(dir, new WatchedFiles(() => listPolicyFiles(dir)).read());
}

/** The same directory, with Cedar given every entity (as before the slice). */
function everything(directory: Directory): Directory {
  return { ...directory, reachable: () => directory.entities };
}

const TOOLS = ["payments.lookup", "payments.refund", "payments.bulk_refund", "kb.search", "prod.db.drop", "not.in.catalog"];

describe("policy decisions over the entities a request can reach", function () {
  this.timeout(120_000);
  let dir: string;
  let policies: LoadedPolicySet;

  before(function () {
    dir = mkdtempSync(join(tmpdir(), "countersign-slice-"));
    cpSync(join(exampleTenant, "policies"), join(dir, "policies"), { recursive: true });
    writeFileSync(join(dir, "policies", "probe.cedar"), PROBE_POLICIES);
    // Roles in roles, so that ancestry through several entities is exercised (the example's schema has none).
    const schemaFile = join(dir, "policies", "countersign.cedarschema");
    writeFileSync(schemaFile, readFileSync(schemaFile, "utf8").replace(/^entity Role;$/m, "entity Role in [Role];"));
    policies = loadPolicies(join(dir, "policies"));
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  function assertSame(directory: Directory, facts: RequestFacts, approver?: string): void {
    const sliced = decideRequest(policies, directory, facts);
    assert.deepEqual(sliced, decideRequest(policies, everything(directory), facts), `request ${JSON.stringify(facts)}`);
    if (approver !== undefined) {
      const approval = { ...facts, approver };
      assert.deepEqual(decideApproval(policies, directory, approval), decideApproval(policies, everything(directory), approval), `approve ${JSON.stringify(approval)}`);
    }
  }

  it("starts evaluations from the literals whose data policies read, and only those", function () {
    const literals = policies.entityLiterals.map((e) => `${e.type}::${e.id}`).sort();
    assert.deepEqual(literals, ["Role::r2", "Tool::prod.db.drop"]);
  });

  it("decides every request and approval of the example tenant exactly as over all entities", function () {
    const directory = parseDirectory("directory.yaml", readFileSync(join(exampleTenant, "directory.yaml"), "utf8"), policies.schemaText);
    const users = ["alice", "bob", "carol", "dave", "erin", "nobody"];
    let decisions = 0;
    for (const principal of users) {
      for (const tool of TOOLS) {
        for (const tenant of ["acme", "globex"]) {
          for (const target of [undefined, { type: "Resource", id: "acme-order-1042" }, { type: "Resource", id: "globex-order-7" }, { type: "Resource", id: "missing" }]) {
            for (const approver of users) {
              assertSame(directory, { tenant, principal, agent: "spiffe://demo.test/agents/a", tool, taskId: "t", summary: "s", argsSha256: "h", ...(target !== undefined ? { target } : {}) }, approver);
              decisions += 2;
            }
          }
        }
      }
    }
    assert.equal(decisions, 6 * 6 * 2 * 4 * 6 * 2);
  });

  /** A generated tenant: tenants, roles in a hierarchy under the example's, users, and resources they own. */
  const tenantArb = fc.record({
    tenants: fc.integer({ min: 1, max: 3 }),
    extraRoles: fc.array(fc.nat({ max: 7 }), { maxLength: 6 }),
    users: fc.array(fc.record({ tenant: fc.nat({ max: 2 }), roles: fc.uniqueArray(fc.nat({ max: 7 }), { maxLength: 3 }) }), { minLength: 1, maxLength: 120 }),
    resources: fc.array(fc.record({ tenant: fc.nat({ max: 2 }), owner: fc.nat() }), { maxLength: 30 }),
  });
  type GeneratedTenant = typeof tenantArb extends fc.Arbitrary<infer T> ? T : never;

  function directoryOf(t: GeneratedTenant): { directory: Directory; users: string[]; resources: string[]; roles: string[] } {
    const tenants = Array.from({ length: t.tenants }, (_, i) => `t${i}`);
    // r<i> may sit under an earlier role: support and payments-approver first, so `in Role::"support"` can hold through a chain.
    const roles = ["support", "payments-approver", ...t.extraRoles.map((_, i) => `r${i}`)];
    const entities: unknown[] = tenants.map((id) => ({ uid: { type: "Tenant", id }, attrs: {}, parents: [] }));
    roles.forEach((id, i) => {
      const parentIndex = i < 2 ? undefined : (t.extraRoles[i - 2] ?? 0) % i;
      entities.push({ uid: { type: "Role", id }, attrs: {}, parents: parentIndex === undefined || parentIndex === i ? [] : [{ type: "Role", id: roles[parentIndex] }] });
    });
    for (const tool of TOOLS.slice(0, 5)) entities.push({ uid: { type: "Tool", id: tool }, attrs: {}, parents: [] });
    const users = t.users.map((_, i) => `u${i}`);
    t.users.forEach((u, i) => {
      entities.push({ uid: { type: "User", id: `u${i}` }, attrs: { tenant: { type: "Tenant", id: tenants[u.tenant % tenants.length] } }, parents: u.roles.map((r) => ({ type: "Role", id: roles[r % roles.length] })) });
    });
    const resources = t.resources.map((_, i) => `res${i}`);
    t.resources.forEach((r, i) => {
      entities.push({ uid: { type: "Resource", id: `res${i}` }, attrs: { tenant: { type: "Tenant", id: tenants[r.tenant % tenants.length] }, owner: { type: "User", id: users[r.owner % users.length] } }, parents: [] });
    });
    return { directory: parseDirectory("generated.json", JSON.stringify(entities), policies.schemaText), users, resources, roles };
  }

  it("decides as over all entities on generated tenants (property)", function () {
    const requestArb = fc.record({ principal: fc.nat(), approver: fc.nat(), tool: fc.nat({ max: TOOLS.length - 1 }), tenant: fc.nat({ max: 3 }), target: fc.option(fc.nat()) });
    fc.assert(
      fc.property(tenantArb, fc.array(requestArb, { minLength: 1, maxLength: 12 }), (t, requests) => {
        const { directory, users, resources } = directoryOf(t);
        for (const r of requests) {
          // One index past the end names a user or resource that is not in the directory.
          const principal = users[r.principal % (users.length + 1)] ?? "ghost";
          const approver = users[r.approver % (users.length + 1)] ?? "ghost";
          const target = r.target === null ? undefined : { type: "Resource", id: resources[r.target % (resources.length + 1)] ?? "ghost-resource" };
          assertSame(directory, { tenant: `t${r.tenant}`, principal, agent: "spiffe://gen.test/a", tool: TOOLS[r.tool] ?? "x", taskId: "t", summary: "s", argsSha256: "h", ...(target !== undefined ? { target } : {}) }, approver);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("keeps the slice small on a large tenant: 10,000 users, a few dozen entities per decision, and the same decisions", function () {
    const large = directoryOf({
      tenants: 3,
      extraRoles: [0, 1, 2, 3, 0, 1],
      users: Array.from({ length: 10_000 }, (_, i) => ({ tenant: i % 3, roles: [i % 8, (i * 7) % 8] })),
      resources: Array.from({ length: 200 }, (_, i) => ({ tenant: i % 3, owner: i * 37 })),
    });
    assert.ok(large.directory.entities.length > 10_000);
    // Each all-entities evaluation here takes about 150 ms: 12 requests (and approvals) are plenty beside the property test.
    for (let i = 0; i < 12; i++) {
      const facts: RequestFacts = { tenant: `t${i % 3}`, principal: `u${i * 197}`, agent: "spiffe://gen.test/a", tool: TOOLS[i % 5] ?? "kb.search", taskId: "t", summary: "s", argsSha256: "h", target: { type: "Resource", id: `res${i}` } };
      const slice = large.directory.reachable([{ type: "User", id: facts.principal }, { type: "Tool", id: facts.tool }, { type: "Tenant", id: facts.tenant }, facts.target as { type: string; id: string }, ...policies.entityLiterals]);
      assert.ok(slice.length < 40, `slice of ${slice.length} entities`);
      assertSame(large.directory, facts, `u${i * 13}`);
    }
  });
});
