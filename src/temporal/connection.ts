// Connects to Temporal the standard way (@temporalio/envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TLS variables, profile file), with the payload codec on every client.
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from "@temporalio/client";
import type { DataConverter } from "@temporalio/common";
import { loadClientConnectConfig } from "@temporalio/envconfig";
import { NativeConnection } from "@temporalio/worker";
import type { NativeConnectionOptions } from "@temporalio/worker";
import type { Config } from "../config.js";
import { processEnv } from "../config.js";
import { CountersignError } from "../errors.js";
import type { Tracing } from "../tracing/index.js";

export interface TemporalTarget {
  connectionOptions: NativeConnectionOptions;
  namespace: string;
}

/**
 * Where to connect. An explicit address (from `countersign dev` or tests) wins; otherwise the
 * standard Temporal environment variables and profile; the config's `temporal.namespace` wins over both.
 */
export function temporalTarget(config: Config, override?: { address: string; namespace?: string }): TemporalTarget {
  if (override !== undefined) {
    return { connectionOptions: { address: override.address }, namespace: override.namespace ?? config.temporal.namespace ?? "default" };
  }
  const env = Object.fromEntries(Object.entries(processEnv()).filter((e): e is [string, string] => e[1] !== undefined));
  const loaded = loadClientConnectConfig({ overrideEnvVars: env });
  return {
    connectionOptions: loaded.connectionOptions,
    namespace: config.temporal.namespace ?? loaded.namespace ?? "default",
  };
}

/**
 * Where an operator command connects: the standard environment or profile when it names an address;
 * else `fallback` (the Temporal server of a running `countersign dev`); else envconfig's default
 * (the SDK's localhost:7233). With the fallback, its namespace is used as in {@link temporalTarget}.
 */
export function temporalTargetWithFallback(config: Config, fallback: { address: string; namespace?: string } | undefined): TemporalTarget {
  const standard = temporalTarget(config);
  return standard.connectionOptions.address !== undefined || fallback === undefined ? standard : temporalTarget(config, fallback);
}

/** How long connecting to Temporal may take before the caller is told it is unavailable, in ms. */
const CONNECT_TIMEOUT_MS = 3_000;
/**
 * Attempts of one gRPC call that Temporal answered as retryable (UNAVAILABLE and the like), with the
 * SDK's backoff (100 ms, ×1.7): about 0.6 s in all, so a caller hears within a second that Temporal is
 * down instead of after the SDK's default ten attempts (about 20 s); the caller retries (Retry-After).
 */
const GRPC_MAX_ATTEMPTS = 4;
/** The client connection's gRPC interceptors: the SDK's retry, bounded to {@link GRPC_MAX_ATTEMPTS}. */
export function grpcInterceptors(): NonNullable<ConnectionOptions["interceptors"]> {
  return [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: GRPC_MAX_ATTEMPTS }))];
}
/** Where the SDK connects when nothing names an address. */
const DEFAULT_TEMPORAL_ADDRESS = "localhost:7233";

/**
 * A client for the server, the CLI and tests. Close `connection` when done. With `tracing`, every
 * call is a span and carries its trace context to the workflow (README "Tracing").
 * @throws CountersignError `unavailable`, naming the address, when Temporal does not answer.
 */
export async function connectClient(target: TemporalTarget, dataConverter: DataConverter, opts: { tracing?: Tracing } = {}): Promise<{ client: Client; connection: Connection }> {
  const { address, tls, apiKey, metadata } = target.connectionOptions;
  let connection: Connection;
  try {
    connection = await Connection.connect({
      ...(address !== undefined ? { address } : {}),
      ...(tls !== undefined ? { tls } : {}),
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(metadata !== undefined ? { metadata } : {}),
      connectTimeout: CONNECT_TIMEOUT_MS,
      interceptors: grpcInterceptors(),
    });
  } catch (cause) {
    throw new CountersignError("unavailable", `Temporal at ${address ?? DEFAULT_TEMPORAL_ADDRESS} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s (check TEMPORAL_ADDRESS, or start one with \`countersign dev\`)`, { cause });
  }
  const interceptors = opts.tracing?.clientInterceptors;
  return { client: new Client({ connection, namespace: target.namespace, dataConverter, ...(interceptors !== undefined ? { interceptors } : {}) }), connection };
}

/** The worker's native connection. */
export async function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  return NativeConnection.connect(target.connectionOptions);
}
