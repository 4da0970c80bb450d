// A new user's way to decoded approvals, in a real headless Chromium: `countersign dev` (a child
// process) starts the Temporal UI pointed at its codec; the demo agent files a request; the user signs
// the browser in at /codec/session with `countersign ops-token --as bob`, turns on the Data Encoder's
// "Include cross-origin credentials", and opens the approval's workflow page, where the request reads
// decoded and the agent's token masked. The screenshot goes to test-output/screenshots/.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { freePort } from "../../src/temporal/dev-server.js";
import { provisionChromium } from "../support/chromium.js";
import { newUserEnv, run, waitForOutput } from "../support/new-user.js";
import { exampleTenant, projectRoot } from "../support/stack.js";

const cliEntry = join(projectRoot, "dist", "src", "cli", "index.js");
const demoAgent = join(projectRoot, "dist", "examples", "demo-agent.js");
const screenshotDir = join(projectRoot, "test-output", "screenshots");
/** How long `countersign dev` may take to start its Temporal server, worker and HTTP server, in ms. */
const DEV_READY_TIMEOUT_MS = 45_000;
/** How long the UI may take to load the workflow and have the codec decode it, in ms. */
const UI_TIMEOUT_MS = 45_000;

// Page-side code goes as expressions: this project compiles without the DOM's types.
const bodyText = (page: Page): Promise<string> => page.evaluate("document.body.innerText") as Promise<string>;

describe("countersign dev: decoded approvals in the Temporal UI (headless Chromium)", function () {
  let dir: string;
  let dev: ChildProcess | undefined;
  let devExit: Promise<number | null>;
  let devStderr = "";
  let browser: Browser | undefined;
  let serverUrl: string;
  let uiUrl: string;
  let codecEndpoint: string;

  before(async function () {
    this.timeout(20 * 60_000); // a first run on a fresh machine installs Chromium
    const chromium = provisionChromium((msg) => console.log(`[test] ${msg}`));
    dir = mkdtempSync(join(tmpdir(), "countersign-ui-"));
    cpSync(exampleTenant, join(dir, "tenant"), { recursive: true });
    const configFile = join(dir, "tenant", "countersign.config.yaml");
    const raw = parseYaml(readFileSync(configFile, "utf8")) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rewriting a few known keys
    const intoState = (path: string): string => path.replace(/^\.\.\/\.\.\/\.countersign\//, "../.countersign/");
    raw.server.port = await freePort();
    raw.mcp.upstreams.payments.url = `http://127.0.0.1:${await freePort()}/mcp`;
    for (const entry of [...raw.identity.principals, ...raw.identity.agents]) entry.jwks = intoState(entry.jwks);
    raw.grants.keyFile = intoState(raw.grants.keyFile);
    raw.payloads.keyFile = intoState(raw.payloads.keyFile);
    writeFileSync(configFile, stringifyYaml(raw));

    const args = [cliEntry, "--config", "tenant/countersign.config.yaml", "dev", "--state-dir", ".countersign"];
    args.push("--temporal-port", String(await freePort()), "--temporal-ui-port", String(await freePort()));
    dev = spawn(process.execPath, args, { cwd: dir, env: newUserEnv(dir), stdio: ["ignore", "pipe", "pipe"] });
    devExit = new Promise((done) => dev?.once("exit", (code) => done(code)));
    dev.stderr?.on("data", (chunk: Buffer) => (devStderr = (devStderr + chunk.toString("utf8")).slice(-8000)));
    const ready = await waitForOutput(dev, /Read approvals decoded in the Temporal UI[^]*apply; then open/, DEV_READY_TIMEOUT_MS, () => devStderr);
    serverUrl = /HTTP API +(\S+)/.exec(ready)?.[1] ?? "";
    const ui = /Temporal UI +(\S+) +\(decodes through (\S+)\)/.exec(ready);
    uiUrl = ui?.[1] ?? "";
    codecEndpoint = ui?.[2] ?? "";
    assert.equal(codecEndpoint, `${serverUrl}/codec`, "dev points the UI at its own server's codec");

    browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      // Root (as CI runs) needs --no-sandbox; the page only ever loads our own loopback servers.
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--window-size=1400,2000"],
      defaultViewport: { width: 1400, height: 2000 },
    });
  });

  after(async function () {
    await browser?.close();
    if (dev !== undefined && dev.exitCode === null && dev.signalCode === null) {
      dev.kill("SIGINT");
      const stopped = await Promise.race([devExit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000))]);
      if (!stopped) {
        dev.kill("SIGKILL");
        await devExit;
      }
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("a filed approval's workflow page shows the request decoded, with the agent's token masked", async function () {
    this.timeout(3 * 60_000);
    assert.ok(browser !== undefined);
    const filed = await run([demoAgent, "request"], dir, newUserEnv(dir, { COUNTERSIGN_URL: serverUrl }));
    assert.equal(filed.code, 0, filed.out + filed.err);
    const id = /"id": "(appr_[A-Za-z0-9_-]+)"/.exec(filed.out)?.[1];
    assert.ok(id !== undefined, `the demo agent printed an approval id:\n${filed.out}`);
    const minted = await run([cliEntry, "ops-token", "--as", "bob"], dir, newUserEnv(dir));
    assert.equal(minted.code, 0, minted.err);
    const token = minted.out.trim();
    assert.match(minted.err, new RegExp(`paste it at ${serverUrl}/codec/session`));

    const page = await browser.newPage();
    // Every codec call the UI makes, with its answer's status.
    const codecCalls: Array<{ url: string; status: number }> = [];
    page.on("response", (res) => {
      if (/\/codec\/(decode|encode)(\?|$)/.test(res.url()) && res.request().method() === "POST") codecCalls.push({ url: res.url(), status: res.status() });
    });

    // 1. Sign the browser in on the codec's own page.
    await page.goto(`${serverUrl}/codec/session`);
    await page.type("input[name=token]", token);
    await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
    assert.match(await bodyText(page), /Signed in as bob \(tenant acme\)/);

    // 2. The Data Encoder settings, as its dialog stores them in this browser: the endpoint `dev` set, with cross-origin credentials.
    await page.goto(`${uiUrl}/namespaces/default/workflows`);
    const settings = { overrideRemoteCodecConfiguration: true, endpoint: codecEndpoint, includeCredentials: true, passAccessToken: false };
    await page.evaluate(`for (const [k, v] of Object.entries(${JSON.stringify(settings)})) localStorage.setItem(k, JSON.stringify(v))`);

    // 3. The approval's workflow page: the input reads decoded once the codec answered.
    await page.goto(`${uiUrl}/namespaces/default/workflows/${id}`);
    try {
      await page.waitForFunction(`document.body.innerText.includes("pay_1042") && document.body.innerText.includes("[masked token:")`, { timeout: UI_TIMEOUT_MS, polling: 250 });
    } finally {
      mkdirSync(screenshotDir, { recursive: true });
      const file = join(screenshotDir, "dev-ui-codec.png");
      await page.screenshot({ path: file, fullPage: true });
      console.log(`[test] screenshot: ${file}`);
    }
    const text = await bodyText(page);
    assert.ok(text.includes("payments.refund"), "the tool reads in the clear");
    assert.ok(text.includes("Refund the duplicate charge") || text.includes("ticket-1042"), "the intent reads in the clear");
    assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./, "no token is shown");
    assert.ok(codecCalls.length > 0 && codecCalls.every((call) => call.url.startsWith(`${codecEndpoint}/decode`)), `the UI called the codec dev set: ${JSON.stringify(codecCalls)}`);
    assert.deepEqual(codecCalls.filter((call) => call.status !== 200), [], "every codec call succeeded");
  });
});
