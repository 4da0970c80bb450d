// The gateway's side of the upstream MCP servers (config `mcp.upstreams`): their tool lists, and one
// call per approved request with that call's grant as the only credential. Nothing of the agent's or
// the user's request (tokens, headers) is ever passed on.
import { Client, StreamableHTTPClientTransport, type CallToolResult, type Tool } from "@modelcontextprotocol/client";

/** A connection's era verdict, for the next connection (the SDK's `connect(…, { prior })`). */
type PriorDiscovery = NonNullable<Parameters<Client["connect"]>[1]>["prior"];
import type { McpConfig } from "../config.js";
import type { Logger } from "../log.js";
import { CountersignError } from "../errors.js";
import type { Json } from "../../workflows/definitions.js";

const CLIENT_INFO = { name: "countersign-gateway", version: "0.1.0" };

/** A tool as the gateway shows it, with the upstream that serves it. */
export interface UpstreamTool {
  upstream: string;
  tool: Tool;
}

export interface UpstreamOptions {
  config: McpConfig;
  /** For tests: the fetch every upstream request goes through. */
  fetch?: typeof fetch;
  /** Where an upstream that cannot list its tools is reported. */
  logger?: Logger;
}

/** Every redirect is refused: a grant must never be re-sent to where a 3xx points. */
function noRedirects(base: typeof fetch): typeof fetch {
  return (input, init) => base(input, { ...init, redirect: "error" });
}

export class Upstreams {
  private readonly listed = new Map<string, { atMs: number; tools: Tool[] }>();
  /** What each upstream's last connection learned of its protocol era, reused for `listCacheSeconds` (saves the probe's round trip). */
  private readonly eras = new Map<string, { atMs: number; prior: PriorDiscovery }>();
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: UpstreamOptions) {
    this.fetch = noRedirects(opts.fetch ?? fetch);
  }

  /** The upstream serving catalog tool `tool`, if any. */
  upstreamOf(tool: string): string | undefined {
    for (const [name, upstream] of Object.entries(this.opts.config.upstreams)) if (upstream.tools.includes(tool)) return name;
    return undefined;
  }

  private async connect(upstream: string, grant?: string): Promise<Client> {
    const entry = this.opts.config.upstreams[upstream];
    if (entry === undefined) throw new CountersignError("unknown_tool", `no upstream ${upstream}`);
    // `auto`: the current revision when the upstream serves it, else the 2025-11-25 handshake.
    const client = new Client(CLIENT_INFO, { versionNegotiation: { mode: "auto" } });
    const transport = new StreamableHTTPClientTransport(new URL(entry.url), {
      fetch: this.fetch,
      ...(grant !== undefined ? { authProvider: { token: () => Promise.resolve(grant) } } : {}),
    });
    const known = this.eras.get(upstream);
    const fresh = known !== undefined && Date.now() - known.atMs < this.opts.config.listCacheSeconds * 1000;
    try {
      await client.connect(transport, fresh ? { prior: known.prior } : {});
    } catch (cause) {
      this.eras.delete(upstream);
      await client.close().catch(() => undefined);
      throw new CountersignError("unavailable", `upstream ${upstream} did not answer`, { cause });
    }
    if (!fresh) {
      const discover = client.getDiscoverResult();
      this.eras.set(upstream, { atMs: Date.now(), prior: discover !== undefined ? { kind: "modern", discover } : { kind: "legacy" } });
    }
    return client;
  }

  /**
   * The catalog tools each upstream lists (cached for `listCacheSeconds`). An upstream that does not
   * answer contributes nothing (and is asked again next time); a tool it does not list is not shown.
   */
  async tools(): Promise<UpstreamTool[]> {
    const all = await Promise.all(
      Object.entries(this.opts.config.upstreams).map(async ([name, entry]) => {
        const cached = this.listed.get(name);
        if (cached !== undefined && Date.now() - cached.atMs < this.opts.config.listCacheSeconds * 1000) return cached.tools.map((tool) => ({ upstream: name, tool }));
        let tools: Tool[];
        try {
          const client = await this.connect(name);
          try {
            tools = (await client.listTools()).tools.filter((t) => entry.tools.includes(t.name));
          } finally {
            await client.close().catch(() => undefined);
          }
        } catch (err) {
          // Its tools are left out of this answer (and it is asked again next time): say why.
          this.opts.logger?.warn({ upstream: name, code: err instanceof CountersignError ? err.code : "internal" }, "upstream did not list its tools");
          return [];
        }
        this.listed.set(name, { atMs: Date.now(), tools });
        return tools.map((tool) => ({ upstream: name, tool }));
      }),
    );
    return all.flat();
  }

  /**
   * Call `tool` on its upstream with `grant` as the bearer token, once. Throws `unavailable` when the
   * upstream could not be reached or did not answer (the grant may be unspent: a retry may succeed).
   */
  async call(tool: string, args: Json, grant: string, signal?: AbortSignal): Promise<CallToolResult> {
    const upstream = this.upstreamOf(tool);
    if (upstream === undefined) throw new CountersignError("unknown_tool", `no upstream serves ${tool}`);
    const client = await this.connect(upstream, grant);
    try {
      return (await client.callTool({ name: tool, arguments: args as Record<string, unknown> }, signal !== undefined ? { signal } : {}));
    } catch (cause) {
      throw new CountersignError("unavailable", `upstream ${upstream} did not answer the call`, { cause });
    } finally {
      await client.close().catch(() => undefined);
    }
  }
}
