// The failure converter the data converter points Temporal at (by path: the worker bundles it into
// workflow code). It moves error messages and stack traces into an encoded payload, so the payload
// codec encrypts them too. Must stay workflow-safe: import only @temporalio/common.
import { DefaultFailureConverter } from "@temporalio/common";

/** Loaded by name by Temporal (`failureConverterPath`). */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
