// Builds the long-lived pieces every process needs from the parsed config: policy engine, token
// verifiers, grant keys and the encrypting data converter. Fails fast on any bad file.
import type { DataConverter } from "@temporalio/common";
import type { Config } from "../config.js";
import { createAgentVerifier, type AgentVerifier } from "../auth/verify-agent.js";
import { createPrincipalVerifier, type PrincipalVerifier } from "../auth/verify-principal.js";
import { createProofVerifier, type ProofCheck } from "../auth/verify-proof.js";
import { createDataConverter } from "../codec/payload-codec.js";
import { ensurePayloadKeys, loadPayloadKeys, type PayloadKeys } from "../codec/payload-keys.js";
import { ensureKeyStore, loadKeyStore, type KeyStore } from "../grants/key-store.js";
import { loadPolicyEngine, type PolicyEngine } from "../policy/engine.js";
import type { ActivityDeps } from "../../activities/index.js";
import type { Logger } from "../log.js";
import { SlackCards } from "../slack/cards.js";
import { createSlackClient } from "../slack/web.js";

export interface Services {
  config: Config;
  policy: PolicyEngine;
  verifyPrincipal: PrincipalVerifier;
  verifyAgent: AgentVerifier;
  /** Proof of possession of a workload's key (Workload-Proof-Token), when its token names one. */
  verifyProof: (check: ProofCheck) => Promise<void>;
  grantKeys: KeyStore;
  /** For clients: a payload the codec refuses is an error (`payload_rejected`). */
  dataConverter: DataConverter;
  /** For workers: a refused payload reaches the workflow as a refusal marker, so the message is refused and the approval is not jammed. */
  workerDataConverter: DataConverter;
  /** The payload keys themselves, for the codec server (`/codec/*`), which has no serialization context. */
  payloadKeys: PayloadKeys;
}

/**
 * Load everything. With `createMissingKeys` (the dev command), missing key files are generated;
 * production processes require them to exist (`key_file_invalid` otherwise).
 */
export async function buildServices(config: Config, opts: { createMissingKeys: boolean }): Promise<Services> {
  const policy = policyEngineOf(config);
  const grantKeys = opts.createMissingKeys ? await ensureKeyStore(config.grants.keyFile) : await loadKeyStore(config.grants.keyFile);
  if (opts.createMissingKeys && config.payloads.keysFromEnv === undefined) await ensurePayloadKeys(config.payloads.keyFile);
  const payloadKeys = await loadPayloadKeys({ keyFile: config.payloads.keyFile, keysFromEnv: config.payloads.keysFromEnv });
  return {
    config,
    policy,
    verifyPrincipal: createPrincipalVerifier(config.identity),
    verifyAgent: createAgentVerifier(config.identity),
    verifyProof: createProofVerifier({ clockToleranceSeconds: config.identity.clockToleranceSeconds }),
    grantKeys,
    dataConverter: createDataConverter(payloadKeys),
    workerDataConverter: createDataConverter(payloadKeys, { refused: "mark" }),
    payloadKeys,
  };
}

/** The policy engine over the config's policies and directory, with its deadline cap. */
export function policyEngineOf(config: Config): PolicyEngine {
  return loadPolicyEngine({ policiesDir: config.policiesDir, directoryFile: config.directoryFile, maxDeadlineSeconds: config.approvals.maxDeadlineSeconds });
}

/**
 * The Slack card writer of a worker, when Slack is configured (and has a bot token). The cards link
 * to `slack.temporalUiUrl`, else to `fallbackUiUrl` (the UI `countersign dev` runs).
 */
export function slackCardsOf(services: Services, logger?: Logger, fallbackUiUrl?: string): SlackCards | undefined {
  const slack = services.config.slack;
  if (slack?.botToken === undefined) return undefined;
  const temporalUiUrl = slack.temporalUiUrl ?? fallbackUiUrl;
  return new SlackCards({ slack, tools: services.config.tools, policy: services.policy, client: createSlackClient(slack, slack.botToken, logger), ...(temporalUiUrl !== undefined ? { temporalUiUrl } : {}) });
}

/** What the activities need, taken from the services. */
export function activityDeps(services: Services, logger?: Logger, opts: { temporalUiUrl?: string } = {}): ActivityDeps {
  const slack = slackCardsOf(services, logger, opts.temporalUiUrl);
  return {
    ...(slack !== undefined ? { slack } : {}),
    policy: services.policy,
    verifyAgent: services.verifyAgent,
    grantKeys: services.grantKeys,
    issuer: services.config.issuer,
    grantTtlSeconds: services.config.grants.ttlSeconds,
    clockToleranceSeconds: services.config.identity.clockToleranceSeconds,
    breakGlassEnabled: services.config.approvals.breakGlass.enabled,
  };
}
