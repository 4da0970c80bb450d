// The tool-server kit against a fake countersign on loopback (no Temporal): redirects and answers
// that are not countersign's redemption of *this* grant are never taken for one.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { argsSha256 } from "../../src/grants/args-hash.js";
import { ensureKeyStore, type KeyStore } from "../../src/grants/key-store.js";
import { mintGrant } from "../../src/grants/mint.js";
import { createToolServerKit } from "../../src/kit/index.js";
import { grantInput, tempKeyFile } from "../grants/helpers.js";

const ARGS = { payment_id: "pay_1042", amount_cents: 4200, currency: "EUR" };
const AUDIENCE = "spiffe://tools.test/payments";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function listen(handler: Handler): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => handler(req, body, res));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return { server, url: `http://127.0.0.1:${address.port}` };
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(value));
}

describe("tool-server kit acts only on countersign's redemption of this grant", function () {
  let keys: KeyStore;
  const servers: Server[] = [];
  before(async function () {
    keys = await ensureKeyStore(tempKeyFile());
  });
  afterEach(async function () {
    await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
  });

  /** A fake countersign: JWKS from `keys`, redemption answered by `redeem`. */
  async function fakeCountersign(redeem: Handler): Promise<string> {
    const { server, url } = await listen((req, body, res) => {
      if (req.url === "/.well-known/jwks.json") return json(res, 200, keys.jwks());
      if (req.url === "/v1/grants/redeem") return redeem(req, body, res);
      json(res, 404, { error: { code: "not_found", message: "no" } });
    });
    servers.push(server);
    return url;
  }

  async function grantFor(issuer: string): Promise<string> {
    const minted = await mintGrant(keys, grantInput({ audience: AUDIENCE, argsSha256: argsSha256(ARGS), approvalId: "appr-alice-1" }), { issuer, ttlSeconds: 60 });
    return minted.token;
  }

  it("does not follow a redirect off countersign: the grant and workload token stay home, and the other origin's 200 is no redemption", async function () {
    const seen: { token?: string | undefined; body?: string } = {};
    const elsewhere = await listen((req, body, res) => {
      seen.token = req.headers["workload-identity-token"] as string | undefined;
      seen.body = body;
      json(res, 200, { principal: "alice@example.com", agent: "spiffe://agents.test/support-bot", approvalId: "appr-alice-1" });
    });
    servers.push(elsewhere.server);
    // Another origin (localhost vs 127.0.0.1): what a redirecting proxy or a hijacked path would point at.
    const otherOrigin = elsewhere.url.replace("127.0.0.1", "localhost");
    const base = await fakeCountersign((_req, _body, res) => {
      res.writeHead(307, { location: `${otherOrigin}/collect` });
      res.end();
    });
    const kit = createToolServerKit({ countersignUrl: base, audience: AUDIENCE, workloadToken: () => "tool-server-jwt-svid", attempts: 1 });
    const grant = await grantFor(base);
    let resolved = false;
    try {
      await kit.verifyAndRedeem(grant, { tool: "payments.refund", arguments: ARGS });
      resolved = true;
    } catch {
      // refused: what should happen
    }
    assert.equal(seen.token, undefined, "the tool server's workload identity token was sent to another origin");
    assert.equal(seen.body, undefined, "the grant was sent to another origin");
    assert.equal(resolved, false, "verifyAndRedeem resolved on a 200 from an origin that is not countersign: the grant was never burned");
  });

  it("refuses a 200 that names another approval, principal and agent than the verified grant", async function () {
    const base = await fakeCountersign((_req, _body, res) => json(res, 200, { principal: "mallory", agent: "spiffe://agents.test/evil", approvalId: "appr-someone-else" }));
    const kit = createToolServerKit({ countersignUrl: base, audience: AUDIENCE, workloadToken: () => "tool-server-jwt-svid", attempts: 1 });
    const grant = await grantFor(base);
    let redeemed: Awaited<ReturnType<typeof kit.verifyAndRedeem>> | undefined;
    try {
      redeemed = await kit.verifyAndRedeem(grant, { tool: "payments.refund", arguments: ARGS });
    } catch {
      // refused: what should happen
    }
    assert.equal(
      redeemed,
      undefined,
      `resolved as a redemption of ${redeemed?.approvalId} for ${redeemed?.principal}, while the signed grant is ${redeemed?.claims.approval.id} for ${redeemed?.claims.sub}`,
    );
  });
});
