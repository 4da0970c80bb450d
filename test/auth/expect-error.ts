// Assertion helper for auth tests: a promise rejects with a CountersignError of a given code that does not leak the token.
import assert from "node:assert/strict";
import { CountersignError, type ErrorCode } from "../../src/errors.js";

/**
 * Assert that `promise` rejects with a CountersignError whose code is `code`, and, when `token` is given,
 * that neither its message nor its detail contains the token. Returns the error for further checks.
 */
export async function rejectsWithCode(promise: Promise<unknown>, code: ErrorCode, token?: string): Promise<CountersignError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CountersignError, `expected a CountersignError with code ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  if (token !== undefined && token !== "") {
    assert.ok(!caught.message.includes(token), "the error message contains the token");
    assert.ok(!JSON.stringify(caught.detail ?? {}).includes(token), "the error detail contains the token");
  }
  return caught;
}
