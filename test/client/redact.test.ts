// Argument redaction for approvers' views.
import assert from "node:assert/strict";
import { REDACTED, redactArguments } from "../../src/client/redact.js";

describe("redactArguments", function () {
  const args = {
    payment_id: "pay_1",
    card_number: "4111111111111111",
    customer: { email: "c@example.test", name: "C", card_number: "5500000000000004" },
    lines: [{ card_number: "340000000000009", amount: 1 }],
    notes: { email: "ops@example.test" },
  };

  it("hides a bare key at any depth, arrays included", function () {
    const out = redactArguments(args, ["card_number"]) as typeof args;
    assert.equal(out.card_number, REDACTED);
    assert.equal(out.customer.card_number, REDACTED);
    assert.equal(out.lines[0]?.card_number, REDACTED);
    assert.equal(out.lines[0]?.amount, 1);
    assert.equal(out.payment_id, "pay_1");
  });

  it("hides a dotted path only where it points", function () {
    const out = redactArguments(args, ["customer.email"]) as typeof args;
    assert.equal(out.customer.email, REDACTED);
    assert.equal(out.notes.email, "ops@example.test");
    assert.equal(out.customer.name, "C");
  });

  it("leaves the input untouched and passes scalars through", function () {
    redactArguments(args, ["card_number"]);
    assert.equal(args.card_number, "4111111111111111");
    assert.equal(redactArguments("text", ["x"]), "text");
    assert.deepEqual(redactArguments([1, null, true], ["x"]), [1, null, true]);
  });

  it("an argument named __proto__ stays in the approver's view, with its own fields redacted", function () {
    // JSON.parse makes `__proto__` an ordinary own key; assigning it to a plain object would set the
    // prototype instead and drop the field (and everything in it) from what the approver sees.
    const parsed = JSON.parse('{"amount":1,"__proto__":{"card_number":"4111111111111111","note":"n"}}') as Parameters<typeof redactArguments>[0];
    const out = redactArguments(parsed, ["card_number"]);
    assert.equal(JSON.stringify(out), '{"amount":1,"__proto__":{"card_number":"[redacted]","note":"n"}}');
  });
});
