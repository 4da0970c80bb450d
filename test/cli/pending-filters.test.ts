// `countersign pending` filters on tool (the CountersignTool search attribute) and age (visibility's
// StartTime), and sorts newest first, oldest first or soonest deadline first (read from each
// approval's state). The approvals live in a tenant of their own, so what other tests left open on
// the shared dev server is never listed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { WorkflowClient, type ListOptions } from "@temporalio/client";
import { runCli as run } from "../support/run-cli.js";
import { AGENT, refundRequest, startStack, type TestStack } from "../support/stack.js";

interface Row {
  id: string;
  status: string;
  tool: string;
  startedAt: string;
  deadline?: string | null;
}

describe("pending filters and sorting (real Temporal server)", function () {
  this.timeout(120_000);
  let stack: TestStack;
  const suffix = randomBytes(4).toString("hex");
  const tenant = `pf-${suffix}`;
  const requester = `pf-req-${suffix}`;
  const approver = `pf-appr-${suffix}`;
  // Filed in this order: A (refund), B (bulk refund: a later deadline), C (refund), D (refund, approved: ends at its grant's expiry).
  let a: string, b: string, c: string, d: string;

  async function file(tool: string): Promise<string> {
    const res = await stack.http("POST", "/v1/approvals", await stack.agentHeaders(requester, AGENT), refundRequest({ tenant, tool }));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  }

  async function pending(...args: string[]): Promise<Row[]> {
    const res = await run(["--config", stack.configFile, "pending", "--tenant", tenant, "--json", ...args]);
    assert.equal(res.code, 0, res.all);
    return JSON.parse(res.out) as Row[];
  }

  before(async function () {
    stack = await startStack();
    // A tenant of its own, with a requester (support) and an approver; the directory is re-read on the next decision.
    stack.writeTenantFile(
      "directory.yaml",
      `${stack.readTenantFile("directory.yaml")}
- uid: { type: Tenant, id: ${tenant} }
  attrs: {}
  parents: []
- uid: { type: User, id: ${requester} }
  attrs: { tenant: { type: Tenant, id: ${tenant} }, email: ${requester}@example.test }
  parents: [{ type: Role, id: support }]
- uid: { type: User, id: ${approver} }
  attrs: { tenant: { type: Tenant, id: ${tenant} }, email: ${approver}@example.test }
  parents: [{ type: Role, id: payments-approver }]
`,
    );
    a = await file("payments.refund");
    b = await file("payments.bulk_refund");
    c = await file("payments.refund");
    d = await file("payments.refund");
    assert.equal((await stack.decide(d, approver, "approve", "fine")).status, "approved");
    // Visibility is eventually consistent: wait (bounded) until it shows all four, D as approved.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const rows = await pending();
      const ok = [a, b, c, d].every((id) => rows.some((r) => r.id === id)) && rows.find((r) => r.id === d)?.status === "approved";
      if (ok) break;
      assert.ok(Date.now() < deadline, `visibility did not catch up: ${JSON.stringify(rows)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(async function () {
    await stack?.stop();
  });

  it("--sort orders the rows newest first (default), oldest first (age), or soonest deadline first, the deadline read from each approval", async function () {
    assert.deepEqual((await pending()).map((r) => r.id), [d, c, b, a], "newest first by default");
    assert.deepEqual((await pending("--sort", "newest")).map((r) => r.id), [d, c, b, a]);
    assert.deepEqual((await pending("--sort", "age")).map((r) => r.id), [a, b, c, d], "oldest first");

    // D ends when its grant expires (5 minutes), A and C at their 15-minute deadlines, B at its 30-minute one.
    const byDeadline = await pending("--sort", "deadline");
    assert.deepEqual(byDeadline.map((r) => r.id), [d, a, c, b]);
    const states = new Map(await Promise.all([a, b, c, d].map(async (id) => [id, await stack.approvals.state(id)] as const)));
    assert.equal(byDeadline[0]?.deadline, new Date(states.get(d)?.grant?.expiresAtMs ?? 0).toISOString(), "an approved approval ends at its grant's expiry");
    for (const row of byDeadline.slice(1)) {
      assert.equal(row.deadline, new Date(states.get(row.id)?.routing?.deadlineAtMs ?? 0).toISOString(), `${row.id} ends at its approval deadline`);
    }
    assert.ok(!JSON.stringify(byDeadline).includes(states.get(d)?.grant?.token ?? "no grant"), "the grant token is never printed");
    assert.equal((await pending("--sort", "age"))[0]?.deadline, undefined, "other orders read no state");

    // The text view names the deadline on every line, in the same order.
    const text = await run(["--config", stack.configFile, "pending", "--tenant", tenant, "--sort", "deadline"]);
    assert.equal(text.code, 0, text.all);
    const lines = text.out.split("\n");
    assert.deepEqual(lines.map((l) => l.split("  ")[0]), [d, a, c, b]);
    for (const [i, line] of lines.entries()) assert.ok(line.endsWith(`  deadline ${byDeadline[i]?.deadline ?? "?"}`), line);
  });

  it("--tool keeps only that tool's approvals, and asks visibility for them", async function () {
    assert.deepEqual((await pending("--tool", "payments.bulk_refund")).map((r) => r.id), [b]);
    assert.deepEqual((await pending("--tool", "payments.refund", "--sort", "age")).map((r) => r.id), [a, c, d]);
    assert.deepEqual(await pending("--tool", "kb.search"), []);
    const asked: string[] = [];
    const { list } = WorkflowClient.prototype as { list: (this: WorkflowClient, options?: ListOptions) => ReturnType<WorkflowClient["list"]> };
    WorkflowClient.prototype.list = function (this: WorkflowClient, options?: ListOptions) {
      asked.push(options?.query ?? "");
      return list.call(this, options);
    };
    try {
      await pending("--tool", "payments.bulk_refund");
    } finally {
      WorkflowClient.prototype.list = list;
    }
    assert.match(asked.at(-1) ?? "", / AND CountersignTool = 'payments\.bulk_refund'/);
  });

  it("--older-than keeps approvals started longer ago than the duration, by their start time in visibility", async function () {
    assert.deepEqual(await pending("--older-than", "1h"), [], "all four started moments ago");
    const text = await run(["--config", stack.configFile, "pending", "--tenant", tenant, "--older-than", "7d"]);
    assert.equal(text.code, 0, text.all);
    assert.equal(text.out, "no open approvals");
    // Once a second has passed since the last one started, a second is exceeded by all four.
    const last = Math.max(...(await pending()).map((r) => Date.parse(r.startedAt)));
    await new Promise((r) => setTimeout(r, Math.max(0, last + 1_100 - Date.now())));
    assert.deepEqual((await pending("--older-than", "1s", "--tool", "payments.refund")).map((r) => r.id), [d, c, a]);

    const asked: string[] = [];
    const { list } = WorkflowClient.prototype as { list: (this: WorkflowClient, options?: ListOptions) => ReturnType<WorkflowClient["list"]> };
    WorkflowClient.prototype.list = function (this: WorkflowClient, options?: ListOptions) {
      asked.push(options?.query ?? "");
      return list.call(this, options);
    };
    const before = Date.now();
    try {
      await pending("--older-than", "10m");
    } finally {
      WorkflowClient.prototype.list = list;
    }
    const after = Date.now();
    const at = Date.parse(/ AND StartTime < '([^']+)'/.exec(asked.at(-1) ?? "")?.[1] ?? "");
    assert.ok(at >= before - 600_000 && at <= after - 600_000, `StartTime bound ${new Date(at).toISOString()} is ten minutes before the call`);
  });

  it("sorting a full page says on stderr that older approvals may have been left out", async function () {
    const res = await run(["--config", stack.configFile, "pending", "--tenant", tenant, "--json", "--limit", "2", "--sort", "age"]);
    assert.equal(res.code, 0, res.all);
    assert.deepEqual((JSON.parse(res.out) as Row[]).map((r) => r.id), [c, d], "the two newest, oldest first");
    assert.match(res.err, /sorted the 2 newest matching approvals; more may be open/);
    const unsorted = await run(["--config", stack.configFile, "pending", "--tenant", tenant, "--json", "--limit", "2"]);
    assert.equal(unsorted.err, "", "newest first needs no such note: they are the newest");
  });

  it("a bad --tool, --older-than or --sort is a usage error (exit 2) and lists nothing", async function () {
    const bad: string[][] = [
      ["--tool", "payments.refund' OR CountersignTenant = 'acme"],
      ["--tool", ""],
      ["--tool", "payments refund"],
      ...["10", "10x", "0m", "-5m", "1.5h", "3651d", "99999999d", "", " 10m", "10M"].map((v) => ["--older-than", v]),
      ["--sort", "priority"],
      ["--sort", ""],
      ["--sort", "Deadline"],
    ];
    for (const args of bad) {
      const res = await run(["--config", stack.configFile, "pending", "--tenant", tenant, ...args]);
      assert.equal(res.code, 2, `${args.join(" ")}: ${res.all}`);
      assert.equal(res.out, "", args.join(" "));
    }
    // Just inside the bounds.
    assert.deepEqual(await pending("--older-than", "3650d"), []);
  });
});
