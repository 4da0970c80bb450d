// The tool-server kit, exported as `countersign/kit`: accept countersign grants in a few lines.
export { createToolServerKit, type RedeemedGrant, type ToolCall, type ToolServerKit, type ToolServerKitOptions } from "./verify-and-redeem.js";
export type { GrantClaims } from "../grants/verify.js";
export { CountersignError, GrantError } from "../errors.js";
