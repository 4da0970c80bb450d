// The agent client, exported as `countersign/agent`: pause on a sensitive action without MCP.
export { createAgentClient, type AgentClient, type AgentClientOptions, type ApprovalRequestInput, type ApprovalView } from "./client.js";
export { CountersignError } from "../errors.js";
