// The bare Temporal baseline of the benchmarks (bench/baseline.ts): a trivial workflow with the same
// shape of Temporal work as an approval and nothing of countersign's. It runs one local activity when
// it starts, answers a query, and takes two Updates: one that runs an activity, one that does not.
// An Update with activity that arrives before the start's local activity has run waits for it (the
// throughput bench sends one right after the start, with no query in between).
import { condition, defineQuery, defineUpdate, proxyActivities, proxyLocalActivities, setHandler } from "@temporalio/workflow";

export interface BareActivities {
  step(n: number): Promise<number>;
}

const local = proxyLocalActivities<BareActivities>({ startToCloseTimeout: "10 seconds" });
const remote = proxyActivities<BareActivities>({ startToCloseTimeout: "10 seconds" });

export const bareState = defineQuery<string>("state");
export const bareUpdateWithActivity = defineUpdate<number>("withActivity");
export const bareUpdate = defineUpdate<number>("bare");
export const bareFinish = defineUpdate<void>("finish");

export async function bareWorkflow(): Promise<void> {
  let status = "started";
  let finished = false;
  setHandler(bareState, () => status);
  setHandler(bareUpdateWithActivity, async () => {
    await condition(() => status === "pending");
    const n = await remote.step(1);
    status = "decided";
    return n;
  });
  setHandler(bareUpdate, () => {
    status = "redeemed";
    return 1;
  });
  setHandler(bareFinish, () => {
    finished = true;
  });
  await local.step(0);
  status = "pending";
  await condition(() => finished);
}
