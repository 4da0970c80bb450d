// The bare baseline of `countersign approve` (bench/cli.ts): a one-shot Temporal client process that
// connects to TEMPORAL_ADDRESS, sends the bare workflow <workflow-id> one Update running an
// activity, and exits.
import { Client, Connection } from "@temporalio/client";
import { bareUpdateWithActivity } from "./workflow.js";

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const workflowId = process.argv[2];
  if (address === undefined || workflowId === undefined) throw new Error("usage: TEMPORAL_ADDRESS=<host:port> node dist/bench/bare/one-update.js <workflow-id>");
  const connection = await Connection.connect({ address });
  try {
    await new Client({ connection }).workflow.getHandle(workflowId).executeUpdate(bareUpdateWithActivity);
  } finally {
    await connection.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
