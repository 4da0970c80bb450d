// KeyedLimit: at most `limit` calls per key at once, waiters served in arrival order, a deadline on waiting.
import assert from "node:assert/strict";
import { KeyedLimit, KeyedLimitTimeout } from "../../src/client/keyed-limit.js";

/** A call that runs until the test releases it. */
function gate(): { promise: Promise<void>; release(): void } {
  let release!: () => void;
  const promise = new Promise<void>((r) => (release = r));
  return { promise, release };
}

const FAR = (): number => Date.now() + 60_000;

describe("KeyedLimit", () => {
  it("runs at most `limit` calls of one key at once and starts the waiters in arrival order", async () => {
    const limit = new KeyedLimit(2);
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const calls = gates.map((g, i) =>
      limit.run("wf", FAR(), async () => {
        started.push(i);
        await g.promise;
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1]);
    gates[1]!.release();
    await calls[1];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1, 2]);
    gates[0]!.release();
    await calls[0];
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1, 2, 3]);
    gates[2]!.release();
    gates[3]!.release();
    assert.deepEqual(await Promise.all(calls), [0, 1, 2, 3]);
  });

  it("never runs more than `limit` at once, whether calls arrive together, later or as others finish", async () => {
    const limit = new KeyedLimit(3);
    let running = 0;
    let most = 0;
    const call = (): Promise<void> =>
      limit.run("wf", FAR(), async () => {
        most = Math.max(most, ++running);
        for (let i = 0; i < 1 + Math.floor(Math.random() * 3); i++) await new Promise((r) => setImmediate(r));
        running--;
      });
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      const first = call();
      calls.push(first, first.then(call)); // a newcomer arriving just as a call finishes
      if (i % 4 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(calls);
    assert.equal(most, 3);
  });

  it("keeps keys apart: a busy key does not hold up another", async () => {
    const limit = new KeyedLimit(1);
    const busy = gate();
    const held = limit.run("wf-1", FAR(), () => busy.promise);
    assert.equal(await limit.run("wf-2", FAR(), () => Promise.resolve("free")), "free");
    busy.release();
    await held;
  });

  it("refuses a waiter whose deadline passes, without running it, and serves the next one", async () => {
    const limit = new KeyedLimit(1);
    const busy = gate();
    const held = limit.run("wf", FAR(), () => busy.promise);
    let ran = false;
    await assert.rejects(
      limit.run("wf", Date.now() + 20, () => {
        ran = true;
        return Promise.resolve();
      }),
      KeyedLimitTimeout,
    );
    assert.equal(ran, false);
    const next = limit.run("wf", FAR(), () => Promise.resolve("next"));
    busy.release();
    await held;
    assert.equal(await next, "next");
  });

  it("frees the slot when the call throws", async () => {
    const limit = new KeyedLimit(1);
    await assert.rejects(limit.run("wf", FAR(), () => Promise.reject(new Error("boom"))), /boom/);
    assert.equal(await limit.run("wf", Date.now() + 20, () => Promise.resolve("after")), "after");
  });

  it("refuses a limit that is not a positive integer", () => {
    assert.throws(() => new KeyedLimit(0), RangeError);
    assert.throws(() => new KeyedLimit(1.5), RangeError);
  });
});
