// The MCP gateway (README "MCP gateway"): built from the config's `mcp` section, mounted by createApp.
import type { ApprovalsClient } from "../client/approvals.js";
import type { Logger } from "../log.js";
import type { Services } from "../runtime/services.js";
import type { Metrics } from "../server/metrics.js";
import { McpGateway } from "./gateway.js";
import { Upstreams } from "./upstream.js";

export { McpGateway, META } from "./gateway.js";
export { mountMcp, TASKS_EXTENSION } from "./server.js";

/** The gateway of `services.config.mcp`, or undefined when the config has no `mcp` section. */
export function createMcpGateway(deps: { services: Services; approvals: ApprovalsClient; metrics: Metrics; logger: Logger; fetch?: typeof fetch }): McpGateway | undefined {
  const config = deps.services.config.mcp;
  if (config === undefined) return undefined;
  const upstreams = new Upstreams({ config, logger: deps.logger, ...(deps.fetch !== undefined ? { fetch: deps.fetch } : {}) });
  return new McpGateway({ services: deps.services, approvals: deps.approvals, metrics: deps.metrics, logger: deps.logger, upstreams, config });
}
