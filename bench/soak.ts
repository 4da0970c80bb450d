// Soak benchmark (not a test): policy decisions in one process, as a worker makes them, to show that
// the process survives (V8 used to abort under sustained cedar-wasm calls: see src/policy/cedar.ts)
// and that a decision's cost stays flat as the directory grows (Cedar gets only the entities a
// request can reach). Prints, per directory size, the time per decision of the engine and of a bare
// cedar-wasm call given only the entities the request touches (the baseline), interleaved.
//   SOAK_DECISIONS (default 20000): decisions per directory size; SOAK_SIZES (default "1000,10000"): users.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPolicyEngine } from "../src/policy/engine.js";
import { statefulIsAuthorized, type EntityJson } from "../src/policy/cedar.js";
import { exampleTenant } from "../test/support/stack.js";
import { percentile } from "./stats.js";

const decisions = Number(process.env.SOAK_DECISIONS ?? 20_000);
const sizes = (process.env.SOAK_SIZES ?? "1000,10000").split(",").map(Number);

/** 100 policies: the example's, and permits for 90 generated tools. */
function extraPolicies(): string {
  return Array.from({ length: 90 }, (_, i) => `@id("gen-${i}")\n@approval("none")\npermit (principal in Role::"support", action == Action::"request", resource == Tool::"gen.tool.${i}")\nwhen { principal.tenant == context.tenant };\n`).join("\n");
}

function directory(users: number): EntityJson[] {
  const entities: EntityJson[] = [
    { uid: { type: "Tenant", id: "acme" }, attrs: {}, parents: [] },
    { uid: { type: "Role", id: "support" }, attrs: {}, parents: [] },
    { uid: { type: "Role", id: "payments-approver" }, attrs: {}, parents: [] },
  ];
  for (let i = 0; i < 90; i++) entities.push({ uid: { type: "Tool", id: `gen.tool.${i}` }, attrs: {}, parents: [] });
  for (let i = 0; i < users; i++) {
    entities.push({ uid: { type: "User", id: `u${i}` }, attrs: { tenant: { __entity: { type: "Tenant", id: "acme" } }, email: `u${i}@acme.example` }, parents: [{ type: "Role", id: i % 10 === 0 ? "payments-approver" : "support" }] });
  }
  return entities;
}

function row(name: string, samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  return `${name.padEnd(58)} ${String(s.length).padStart(6)} ${percentile(s, 50).toFixed(3).padStart(8)} ${percentile(s, 95).toFixed(3).padStart(8)}`;
}

const dir = mkdtempSync(join(tmpdir(), "countersign-soak-"));
const lines: string[] = [];
try {
  cpSync(join(exampleTenant, "policies"), join(dir, "policies"), { recursive: true });
  writeFileSync(join(dir, "policies", "generated.cedar"), extraPolicies());
  const started = Date.now();
  let total = 0;
  for (const users of sizes) {
    const entities = directory(users);
    writeFileSync(join(dir, "directory.json"), JSON.stringify(entities));
    const engine = loadPolicyEngine({ policiesDir: join(dir, "policies"), directoryFile: join(dir, "directory.json") });
    const preparsedId = `countersign-${engine.version().slice("sha256:".length)}`;
    const engineMs: number[] = [];
    const bareMs: number[] = [];
    for (let i = 0; i < decisions; i++) {
      const user = `u${(i * 7919) % users}`;
      const tool = i % 3 === 0 ? "payments.refund" : `gen.tool.${i % 90}`;
      const facts = { tenant: "acme", principal: user, agent: "spiffe://bench.test/a", tool, taskId: "t", summary: "s", argsSha256: "h" };
      let t = performance.now();
      const decision = i % 2 === 0 ? engine.authorizeRequest(facts) : engine.authorizeApproval({ ...facts, approver: `u${((i * 31) % users) - (((i * 31) % users) % 10)}` });
      engineMs.push(performance.now() - t);
      if (decision.decision !== "allow" && i % 2 === 0 && (i * 7919) % users % 10 !== 0) throw new Error(`unexpected deny: ${JSON.stringify(decision)}`);
      // Baseline: cedar-wasm's stateful call with exactly the entities this request touches.
      const touched = entities.filter((e) => (e.uid as { id: string }).id === user || (e.uid as { id: string }).id === "acme" || (e.uid as { id: string }).id === "support" || (e.uid as { id: string }).id === "payments-approver");
      t = performance.now();
      statefulIsAuthorized({
        principal: { type: "User", id: user },
        action: { type: "Action", id: "request" },
        resource: { type: "Tool", id: tool },
        context: { tenant: { __entity: { type: "Tenant", id: "acme" } }, agent: "a", taskId: "t", summary: "s", argsSha256: "h" },
        preparsedSchemaName: preparsedId,
        preparsedPolicySetId: preparsedId,
        validateRequest: true,
        entities: touched,
      });
      bareMs.push(performance.now() - t);
      total += 2;
    }
    lines.push(row(`engine decision, 100 policies × ${entities.length} entities`, engineMs));
    lines.push(row(`bare cedar-wasm, only the touched entities (baseline)`, bareMs));
    const ratio = percentile([...engineMs].sort((a, b) => a - b), 50) / percentile([...bareMs].sort((a, b) => a - b), 50);
    lines.push(`${"  ratio engine / baseline (p50)".padEnd(58)} ${ratio.toFixed(2).padStart(15)}`);
  }
  console.log(`countersign soak — ${new Date().toISOString()} — node ${process.version}: ${total} Cedar calls in one process in ${((Date.now() - started) / 1000).toFixed(1)} s, no crash`);
  console.log(`${"milliseconds".padEnd(58)} ${"n".padStart(6)} ${"p50".padStart(8)} ${"p95".padStart(8)}`);
  for (const line of lines) console.log(line);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
