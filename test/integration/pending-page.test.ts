// `countersign pending` (ApprovalsClient.pending) asks Temporal's visibility for no more rows than it
// shows: its page size is the limit, not the server's default page.
import assert from "node:assert/strict";
import { requestPendingRefund, startStack, type TestStack } from "../support/stack.js";

describe("pending asks for a page of the rows it shows (real Temporal server)", function () {
  this.timeout(30_000);
  let stack: TestStack;
  before(async function () {
    stack = await startStack();
  });
  after(async function () {
    await stack.stop();
  });

  it("passes the limit as the visibility page size and still lists the open approvals", async function () {
    const ids = [(await requestPendingRefund(stack)).id, (await requestPendingRefund(stack)).id, (await requestPendingRefund(stack)).id];
    const service = stack.client.workflowService;
    const original = service.listWorkflowExecutions.bind(service);
    const asked: number[] = [];
    service.listWorkflowExecutions = ((request: { pageSize?: number | null }) => {
      asked.push(request.pageSize ?? 0);
      return original(request);
    }) as typeof service.listWorkflowExecutions;
    try {
      let listed: string[] = [];
      for (let i = 0; i < 40 && !ids.every((id) => listed.includes(id)); i++) {
        listed = (await stack.approvals.pending("acme", 100)).map((r) => r.id);
        if (!ids.every((id) => listed.includes(id))) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(ids.every((id) => listed.includes(id)), "the open approvals are listed");
      assert.ok(asked.length > 0 && asked.every((size) => size > 0 && size <= 100), `page sizes asked: ${asked.join(", ")}`);
      const two = await stack.approvals.pending("acme", 2);
      assert.equal(two.length, 2);
      assert.equal(asked.at(-1), 2);
    } finally {
      service.listWorkflowExecutions = original;
    }
  });
});
