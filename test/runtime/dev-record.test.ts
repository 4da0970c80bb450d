// The record of a running `countersign dev`: written whole and private, ignored once its process is gone.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devRecordFile, readDevRecord, removeDevRecord, writeDevRecord, type DevRecord } from "../../src/runtime/dev-record.js";

/** The pid of a process that has exited (waits for its exit event). */
async function exitedPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((done) => child.once("exit", done));
  assert.ok(child.pid !== undefined);
  return child.pid;
}

describe("dev record", function () {
  let stateDir: string;
  const record = (overrides: Partial<DevRecord> = {}): DevRecord => ({
    configFile: "/srv/countersign.config.yaml",
    stateDir,
    temporalAddress: "127.0.0.1:7233",
    temporalNamespace: "default",
    serverUrl: "http://127.0.0.1:8787",
    pid: process.pid,
    ...overrides,
  });
  beforeEach(function () {
    stateDir = mkdtempSync(join(tmpdir(), "countersign-state-"));
  });
  afterEach(function () {
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("a record is read back while its process lives, from a file only its owner can read, with no temp file left", function () {
    writeDevRecord(record());
    assert.deepEqual(readDevRecord(stateDir), record());
    assert.equal(statSync(devRecordFile(stateDir)).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(stateDir), ["dev.json"]);
    writeDevRecord(record({ serverUrl: "http://127.0.0.1:9999" }));
    assert.equal(readDevRecord(stateDir)?.serverUrl, "http://127.0.0.1:9999");
  });

  it("a record whose process has exited reads as none", async function () {
    writeDevRecord(record({ pid: await exitedPid() }));
    assert.equal(readDevRecord(stateDir), undefined);
  });

  it("a missing, unparsable or incomplete record reads as none", function () {
    assert.equal(readDevRecord(stateDir), undefined);
    writeFileSync(devRecordFile(stateDir), "{not json");
    assert.equal(readDevRecord(stateDir), undefined);
    const { serverUrl: _dropped, ...incomplete } = record();
    writeFileSync(devRecordFile(stateDir), JSON.stringify(incomplete));
    assert.equal(readDevRecord(stateDir), undefined);
    writeFileSync(devRecordFile(stateDir), JSON.stringify({ ...record(), extra: true }));
    assert.equal(readDevRecord(stateDir), undefined);
  });

  it("removeDevRecord removes this process's record and leaves another process's in place", function () {
    writeDevRecord(record({ pid: 1 }));
    removeDevRecord(stateDir);
    assert.equal(readDevRecord(stateDir)?.pid, 1);
    writeDevRecord(record());
    removeDevRecord(stateDir);
    assert.deepEqual(readdirSync(stateDir), []);
    removeDevRecord(stateDir);
  });
});
