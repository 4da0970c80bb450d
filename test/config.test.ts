// Config parsing: defaults, path resolution and errors that name the bad key.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, resolveConfig } from "../src/config.js";
import { slackMode } from "../src/slack/app.js";

const minimal = () => ({
  identity: {
    principals: [{ issuer: "https://idp.test", audience: "countersign", jwks: "idp.json" }],
    agents: [{ trustDomain: "agents.test", jwks: "https://bundle.agents.test/jwks", audience: "countersign" }],
  },
  directory: "directory.yaml",
  policies: "policies",
  tools: { "payments.refund": { audience: "spiffe://agents.test/tools/payments" } },
  grants: { keyFile: "keys/grants.json" },
});

describe("config", function () {
  it("applies defaults and resolves paths against the config file", function () {
    const config = resolveConfig(minimal(), "/etc/countersign/countersign.config.yaml");
    assert.equal(config.server.host, "127.0.0.1");
    assert.equal(config.server.port, 8787);
    assert.equal(config.server.publicUrl, "http://127.0.0.1:8787");
    assert.equal(config.grants.ttlSeconds, 300);
    assert.equal(config.approvals.deadlineSeconds, 900);
    assert.equal(config.temporal.taskQueue, "countersign");
    assert.equal(config.directoryFile, "/etc/countersign/directory.yaml");
    assert.equal(config.policiesDir, "/etc/countersign/policies");
    assert.equal(config.grants.keyFile, "/etc/countersign/keys/grants.json");
    assert.equal(config.payloads.keyFile, "/etc/countersign/keys/payload-keys.json");
    assert.equal(config.identity.principals[0]?.jwks, "/etc/countersign/idp.json");
    assert.equal(config.identity.agents[0]?.jwks, "https://bundle.agents.test/jwks", "URLs stay URLs");
    assert.deepEqual(config.identity.principals[0]?.requiredScopes, []);
    assert.equal(config.worker.maxCachedWorkflows, 500);
    assert.equal(resolveConfig({ ...minimal(), worker: { maxCachedWorkflows: 2000 } }, "c.yaml").worker.maxCachedWorkflows, 2000);
    assert.throws(() => resolveConfig({ ...minimal(), worker: { maxCachedWorkflows: -1 } }, "c.yaml"), /worker\.maxCachedWorkflows/);
  });

  it("deadlines are capped: the default maximum is 7 days, deadlineSeconds may not exceed it, nor the maximum a year", function () {
    const config = resolveConfig(minimal(), "c.yaml");
    assert.equal(config.approvals.maxDeadlineSeconds, 604_800);
    assert.equal(config.approvals.breakGlass.enabled, false, "break-glass is off unless enabled");
    for (const approvals of [{ deadlineSeconds: 999_999_999 }, { deadlineSeconds: 3600, maxDeadlineSeconds: 600 }, { maxDeadlineSeconds: 365 * 24 * 3600 + 1 }]) {
      assert.throws(() => resolveConfig({ ...minimal(), approvals }, "c.yaml"), (err: Error & { code?: string }) => {
        assert.equal(err.code, "config_invalid");
        assert.match(err.message, /approvals\.(deadlineSeconds|maxDeadlineSeconds)/);
        return true;
      });
    }
  });

  it("an unknown key is refused and named", function () {
    assert.throws(() => resolveConfig({ ...minimal(), grant: {} }, "c.yaml"), (err: Error & { code?: string }) => {
      assert.equal(err.code, "config_invalid");
      assert.match(err.message, /grant/);
      return true;
    });
  });

  it("a bad value is refused with the path of the key", function () {
    const raw = minimal();
    (raw.grants as Record<string, unknown>).ttlSeconds = -5;
    assert.throws(() => resolveConfig(raw, "c.yaml"), (err: Error & { code?: string }) => {
      assert.equal(err.code, "config_invalid");
      assert.match(err.message, /grants\.ttlSeconds/);
      return true;
    });
  });

  it("a missing section is refused and named", function () {
    const { identity: _identity, ...raw } = minimal();
    assert.throws(() => resolveConfig(raw, "c.yaml"), /identity/);
  });

  it("a tool server outside every trusted trust domain is refused", function () {
    const raw = minimal();
    raw.tools["payments.refund"] = { audience: "spiffe://elsewhere.test/tools/payments" };
    assert.throws(() => resolveConfig(raw, "c.yaml"), (err: Error & { code?: string }) => {
      assert.equal(err.code, "config_invalid");
      assert.match(err.message, /tools\.payments\.refund\.audience/);
      return true;
    });
  });

  it("a JWKS fetched over plain http is refused unless it is on loopback", function () {
    const raw = minimal();
    raw.identity.agents[0]!.jwks = "http://bundle.agents.test/jwks";
    assert.throws(() => resolveConfig(raw, "c.yaml"), (err: Error & { code?: string }) => {
      assert.equal(err.code, "config_invalid");
      assert.match(err.message, /identity\.agents\.0\.jwks/);
      return true;
    });
    raw.identity.agents[0]!.jwks = "http://127.0.0.1:9999/jwks";
    assert.equal(resolveConfig(raw, "c.yaml").identity.agents[0]?.jwks, "http://127.0.0.1:9999/jwks");
  });

  it("the same issuer or trust domain listed twice is refused", function () {
    const raw = minimal();
    raw.identity.principals.push({ ...raw.identity.principals[0]! });
    assert.throws(() => resolveConfig(raw, "c.yaml"), /identity\.principals\.issuer: https:\/\/idp\.test is listed twice/);
    const raw2 = minimal();
    raw2.identity.agents.push({ ...raw2.identity.agents[0]! });
    assert.throws(() => resolveConfig(raw2, "c.yaml"), { code: "config_invalid" });
  });

  it("worker metrics addresses are host:port, each listed once; none by default", function () {
    assert.deepEqual(resolveConfig(minimal(), "c.yaml").server.workerMetricsAddresses, []);
    const ok = resolveConfig({ ...minimal(), server: { workerMetricsAddresses: ["worker-1.internal:9464", "[::1]:9464"] } }, "c.yaml");
    assert.deepEqual(ok.server.workerMetricsAddresses, ["worker-1.internal:9464", "[::1]:9464"]);
    for (const bad of ["http://worker:9464", "worker:9464/metrics", "user@worker:9464", "worker"]) {
      assert.throws(() => resolveConfig({ ...minimal(), server: { workerMetricsAddresses: [bad] } }, "c.yaml"), /server\.workerMetricsAddresses\.0: host:port/, bad);
    }
    assert.throws(() => resolveConfig({ ...minimal(), server: { workerMetricsAddresses: ["w:1", "w:1"] } }, "c.yaml"), /server\.workerMetricsAddresses: w:1 is listed twice/);
    assert.throws(() => resolveConfig({ ...minimal(), worker: { metricsAddress: "0.0.0.0:9464/x" } }, "c.yaml"), /worker\.metricsAddress: host:port/);
    // A port no socket can have is refused at load, not found out at bind or scrape time.
    assert.throws(() => resolveConfig({ ...minimal(), worker: { metricsAddress: "127.0.0.1:99999" } }, "c.yaml"), /worker\.metricsAddress: port must be at most 65535/);
    assert.equal(resolveConfig({ ...minimal(), worker: { metricsAddress: "127.0.0.1:65535" } }, "c.yaml").worker.metricsAddress, "127.0.0.1:65535");
  });

  it("tracing is off without a tracing section; with one it needs an http(s) OTLP endpoint, and names the service countersign by default", function () {
    assert.equal(resolveConfig(minimal(), "c.yaml").tracing, undefined);
    const on = resolveConfig({ ...minimal(), tracing: { otlpEndpoint: "http://otel-collector:4318/v1/traces" } }, "c.yaml");
    assert.deepEqual(on.tracing, { otlpEndpoint: "http://otel-collector:4318/v1/traces", serviceName: "countersign" });
    assert.equal(resolveConfig({ ...minimal(), tracing: { otlpEndpoint: "https://otlp.example.com/v1/traces", serviceName: "countersign-eu" } }, "c.yaml").tracing?.serviceName, "countersign-eu");
    for (const tracing of [{}, { otlpEndpoint: "otel-collector:4318" }, { otlpEndpoint: "grpc://otel-collector:4317" }, { otlpEndpoint: "http://c:4318/v1/traces", serviceName: "" }, { otlpEndpoint: "http://c:4318/v1/traces", sampler: "always_on" }]) {
      assert.throws(() => resolveConfig({ ...minimal(), tracing }, "c.yaml"), (err: Error & { code?: string }) => {
        assert.equal(err.code, "config_invalid");
        assert.match(err.message, /tracing/);
        return true;
      }, JSON.stringify(tracing));
    }
  });

  it("several issuers need distinct subject prefixes so none can name another's users", function () {
    const raw = minimal();
    raw.identity.principals.push({ issuer: "https://partner.test", audience: "countersign", jwks: "p.json" });
    assert.throws(() => resolveConfig(raw, "c.yaml"), /subjectPrefix/);
    (raw.identity.principals[0] as Record<string, unknown>).subjectPrefix = "acme:";
    (raw.identity.principals[1] as Record<string, unknown>).subjectPrefix = "acme:partner:";
    assert.throws(() => resolveConfig(raw, "c.yaml"), /subjectPrefix/);
    (raw.identity.principals[1] as Record<string, unknown>).subjectPrefix = "partner:";
    assert.equal(resolveConfig(raw, "c.yaml").identity.principals[1]?.subjectPrefix, "partner:");
  });

  it("codec UI origins are exact origins, none by default", function () {
    assert.deepEqual(resolveConfig(minimal(), "c.yaml").codec.uiOrigins, []);
    const origins = ["https://temporal.example.com", "http://127.0.0.1:8233"];
    assert.deepEqual(resolveConfig({ ...minimal(), codec: { uiOrigins: origins } }, "c.yaml").codec.uiOrigins, origins);
    for (const bad of ["https://temporal.example.com/", "https://temporal.example.com/ui", "*", "null", "ftp://host", "temporal.example.com"]) {
      assert.throws(() => resolveConfig({ ...minimal(), codec: { uiOrigins: [bad] } }, "c.yaml"), /codec\.uiOrigins\.0/, bad);
    }
    assert.throws(() => resolveConfig({ ...minimal(), codec: { origins: [] } }, "c.yaml"), /codec/);
  });

  it("invalid YAML and a missing file are config_invalid", function () {
    const dir = mkdtempSync(join(tmpdir(), "countersign-config-"));
    const file = join(dir, "c.yaml");
    writeFileSync(file, "server: [unclosed");
    assert.throws(() => loadConfig(file), { code: "config_invalid" });
    assert.throws(() => loadConfig(join(dir, "missing.yaml")), { code: "config_invalid" });
  });

  it("the example tenant's config is valid", function () {
    const config = loadConfig(new URL("../../examples/tenant/countersign.config.yaml", import.meta.url).pathname);
    assert.ok(Object.keys(config.tools).includes("payments.refund"));
  });

  describe("slack", function () {
    const withSlack = (slack: Record<string, unknown>) => ({ ...minimal(), slack });

    it("is off when absent, and on with defaults, secrets read from the named files", function () {
      assert.equal(resolveConfig(minimal(), "/etc/countersign/c.yaml").slack, undefined);
      const dir = mkdtempSync(join(tmpdir(), "countersign-slack-config-"));
      writeFileSync(join(dir, "bot"), "xoxb-from-file\n");
      writeFileSync(join(dir, "secret"), "signing-from-file");
      const saved = { bot: process.env.SLACK_BOT_TOKEN, secret: process.env.SLACK_SIGNING_SECRET, app: process.env.SLACK_APP_TOKEN };
      delete process.env.SLACK_BOT_TOKEN;
      delete process.env.SLACK_SIGNING_SECRET;
      delete process.env.SLACK_APP_TOKEN;
      try {
        const slack = resolveConfig(withSlack({ botTokenFile: "bot", signingSecretFile: "secret", tenants: { acme: { teamId: "T0ACME", channel: "C0APPROVALS" } } }), join(dir, "c.yaml")).slack;
        assert.equal(slack?.botToken, "xoxb-from-file");
        assert.equal(slack?.signingSecret, "signing-from-file");
        assert.equal(slack?.appToken, undefined);
        assert.equal(slack?.apiUrl, "https://slack.com/api/");
        assert.deepEqual([slack?.reminders.everySeconds, slack?.escalation.afterSeconds, slack?.mapUsersByEmail], [0, 1800, false]);
        process.env.SLACK_BOT_TOKEN = "xoxb-from-env";
        assert.equal(resolveConfig(withSlack({ botTokenFile: "bot", tenants: {} }), join(dir, "c.yaml")).slack?.botToken, "xoxb-from-env", "the environment wins over the file");
      } finally {
        for (const [name, value] of [["SLACK_BOT_TOKEN", saved.bot], ["SLACK_SIGNING_SECRET", saved.secret], ["SLACK_APP_TOKEN", saved.app]] as const) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      }
    });

    it("a server with Slack configured refuses to start without the bot token, or without both the signing secret and the app token", function () {
      const base = resolveConfig(withSlack({ tenants: {} }), "/x/c.yaml").slack;
      assert.ok(base !== undefined);
      const cfg = { ...base, botToken: undefined, signingSecret: undefined, appToken: undefined };
      assert.throws(() => slackMode(cfg), { code: "config_invalid", message: /SLACK_BOT_TOKEN/ });
      assert.throws(() => slackMode({ ...cfg, botToken: "xoxb-1" }), { code: "config_invalid", message: /SLACK_SIGNING_SECRET .* SLACK_APP_TOKEN/ });
      assert.equal(slackMode({ ...cfg, botToken: "xoxb-1", signingSecret: "s" }), "http");
      assert.equal(slackMode({ ...cfg, botToken: "xoxb-1", appToken: "xapp-1" }), "socket");
    });

    it("refuses a secret written in the YAML itself, a bad Slack id, a tenant without channels and an unreadable secret file", function () {
      assert.throws(() => resolveConfig(withSlack({ botToken: "xoxb-inline", tenants: {} }), "/x/c.yaml"), /slack: Unrecognized key/);
      assert.throws(() => resolveConfig(withSlack({ tenants: { acme: { teamId: "acme", channel: "C0APPROVALS" } } }), "/x/c.yaml"), /slack.tenants.acme.teamId: a Slack team id/);
      assert.throws(() => resolveConfig(withSlack({ tenants: { acme: { teamId: "T0ACME" } } }), "/x/c.yaml"), /slack.tenants.acme: name a channel/);
      assert.throws(() => resolveConfig(withSlack({ botTokenFile: "missing-file", tenants: {} }), "/nonexistent/c.yaml"), /cannot read the Slack secret file/);
    });
  });

  describe("mcp", function () {
    const upstream = { url: "http://127.0.0.1:8788/mcp", audience: "spiffe://agents.test/tools/payments", tools: ["payments.refund"] };
    const withMcp = (mcp: Record<string, unknown>, tools?: Record<string, unknown>): Record<string, unknown> => ({ ...minimal(), ...(tools !== undefined ? { tools } : {}), mcp });

    it("is off when absent; on, the resource defaults to <publicUrl>/mcp and the limits to their defaults", function () {
      assert.equal(resolveConfig(minimal(), "c.yaml").mcp, undefined);
      const config = resolveConfig(withMcp({ upstreams: { payments: upstream } }), "c.yaml");
      assert.deepEqual(config.mcp, { resource: "http://127.0.0.1:8787/mcp", waitSeconds: 40, progressEverySeconds: 5, resultRetentionSeconds: 900, listCacheSeconds: 60, upstreams: { payments: upstream } });
      assert.deepEqual(config.tools["payments.refund"]?.scopes, []);
    });

    it("refuses an upstream tool outside the catalog, with another audience, or served twice, and a grant-carrying URL in the clear off loopback", function () {
      assert.throws(() => resolveConfig(withMcp({ upstreams: { p: { ...upstream, tools: ["kb.search"] } } }), "c.yaml"), /mcp\.upstreams\.p\.tools: kb\.search is not in the tool catalog/);
      assert.throws(() => resolveConfig(withMcp({ upstreams: { p: { ...upstream, audience: "spiffe://agents.test/tools/other" } } }), "c.yaml"), /payments\.refund's catalog audience is spiffe:\/\/agents\.test\/tools\/payments/);
      assert.throws(() => resolveConfig(withMcp({ upstreams: { p: upstream, q: { ...upstream, url: "http://127.0.0.1:9999/mcp" } } }), "c.yaml"), /payments\.refund is already served by upstream p/);
      assert.throws(() => resolveConfig(withMcp({ upstreams: { p: { ...upstream, url: "http://tools.example.com/mcp" } } }), "c.yaml"), /mcp\.upstreams\.p\.url: an upstream URL must use https/);
      assert.throws(() => resolveConfig(withMcp({ upstreams: {}, waitSeconds: 301 }), "c.yaml"), /mcp\.waitSeconds/);
      assert.throws(() => resolveConfig(withMcp({ upstreams: {} }, { "payments.refund": { audience: "spiffe://agents.test/tools/payments", scopes: ["has space"] } }), "c.yaml"), /tools\.payments\.refund\.scopes\.0: an OAuth scope token/);
    });
  });
});
