// What the MCP gateway's tests share: the resource the test stack serves, a caller's headers, raw
// JSON-RPC on either wire (the SDK's client sends neither a batch nor a task-declaring tools/call it
// can read back), and reading a tool result.
import { randomUUID } from "node:crypto";
import { CLIENT_CAPABILITIES_META_KEY } from "@modelcontextprotocol/client";
import { TASKS_EXTENSION } from "../../src/mcp/index.js";
import { AGENT, type TestStack } from "./stack.js";

/** The test stack's MCP resource: `server.publicUrl` + `/mcp`. */
export const RESOURCE = "http://countersign.test/mcp";

export type ToolResult = { content: Array<{ type: string; text?: string }>; isError?: boolean; _meta?: Record<string, unknown> };

export const textOf = (r: ToolResult): string => r.content.map((c) => c.text ?? "").join("\n");

/** Headers of an MCP caller: `principal`'s token for the MCP resource (or `aud`) and the agent's workload identity. */
export async function mcpHeaders(stack: TestStack, opts: { principal?: string; agent?: string; scope?: string; aud?: string } = {}): Promise<Record<string, string>> {
  return {
    authorization: `Bearer ${await stack.ids.principalToken(opts.principal ?? "alice", { aud: opts.aud ?? RESOURCE, ...(opts.scope !== undefined ? { scope: opts.scope } : {}) })}`,
    "workload-identity-token": await stack.ids.agentToken(opts.agent ?? AGENT),
  };
}

/** A POST to /mcp on the 2025-11-25 wire, body as given (an object or a batch array). */
export function legacyPost(stack: TestStack, headers: Record<string, string>, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${stack.baseUrl}/mcp`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25" },
    body: JSON.stringify(body),
    ...(signal !== undefined ? { signal } : {}),
  });
}

/** A raw JSON-RPC request on the 2026-07-28 wire, declaring the tasks extension unless told not to. */
export function modernPost(
  stack: TestStack,
  method: string,
  params: Record<string, unknown>,
  headers: Record<string, string>,
  opts: { name?: string; declareTasks?: boolean; signal?: AbortSignal } = {},
): Promise<Response> {
  const envelope = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": { name: "raw-test", version: "0" },
    [CLIENT_CAPABILITIES_META_KEY]: opts.declareTasks === false ? {} : { extensions: { [TASKS_EXTENSION]: {} } },
  };
  return fetch(`${stack.baseUrl}/mcp`, {
    method: "POST",
    headers: {
      ...headers,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(opts.name !== undefined ? { "mcp-name": opts.name } : {}),
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: randomUUID(), method, params: { ...params, _meta: { ...(params._meta as object), ...envelope } } }),
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
  });
}

/** The JSON-RPC message of an answer, plain JSON or one SSE event. */
export async function rpcBody(res: Response): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const text = await res.text();
  const data = /^data: (.*)$/m.exec(text)?.[1] ?? text;
  return data === "" ? undefined : JSON.parse(data);
}
