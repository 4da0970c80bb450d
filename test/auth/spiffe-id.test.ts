// Tests of strict SPIFFE ID parsing.
import assert from "node:assert/strict";
import { parseSpiffeId } from "../../src/auth/spiffe-id.js";

describe("parseSpiffeId", () => {
  it("splits a valid SPIFFE ID into trust domain and path", () => {
    assert.deepEqual(parseSpiffeId("spiffe://agents.test/ns/prod/sa/agent_1-x.y"), {
      id: "spiffe://agents.test/ns/prod/sa/agent_1-x.y",
      trustDomain: "agents.test",
      path: "/ns/prod/sa/agent_1-x.y",
    });
  });

  const invalid = [
    "",
    "spiffe://agents.test",
    "spiffe://agents.test/",
    "spiffe:///path",
    "spiffe://Agents.test/agent",
    "SPIFFE://agents.test/agent",
    "https://agents.test/agent",
    "spiffe://agents.test/agent/",
    "spiffe://agents.test//agent",
    "spiffe://agents.test/a/../b",
    "spiffe://agents.test/a/./b",
    "spiffe://agents.test/..",
    "spiffe://agents.test/agent?x=1",
    "spiffe://agents.test/agent#frag",
    "spiffe://agents.test:8443/agent",
    "spiffe://user@agents.test/agent",
    "spiffe://agents.test/a%2Fb",
    "spiffe://agents.test/agent name",
    ` spiffe://agents.test/agent`,
    `spiffe://agents.test/${"a".repeat(2048)}`,
  ];
  for (const value of invalid) {
    it(`refuses ${JSON.stringify(value.length > 60 ? `${value.slice(0, 40)}…` : value)}`, () => {
      assert.equal(parseSpiffeId(value), undefined);
    });
  }
});
