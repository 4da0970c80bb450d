// The policy engine: Cedar policies and the directory, loaded and validated at start-up, checked
// for changes on every call and reloaded in place; a bad reload fails closed until it is fixed.
import { ConfigError } from "../errors.js";
import { decideApproval } from "./authorize-approval.js";
import { decideRequest } from "./authorize-request.js";
import { parseDirectory, type Directory, type DirectoryUser } from "./directory.js";
import { listPolicyFiles, loadPolicySet, type LoadedPolicySet } from "./policy-set.js";
import { WatchedFiles } from "../watched-files.js";

export type { DirectoryUser } from "./directory.js";

/** Where the engine reads from (absolute paths, as in `Config.policiesDir` / `Config.directoryFile`). */
export interface PolicyEngineOptions {
  /** Folder with `*.cedar` policy files and exactly one `*.cedarschema` (Cedar schema syntax). */
  policiesDir: string;
  /** YAML or JSON file: an array of Cedar entity JSON objects `{uid: {type, id}, attrs, parents}`. */
  directoryFile: string;
  /** Longest `@deadline_seconds` a policy may set (`approvals.maxDeadlineSeconds`); a longer one makes the policies invalid. */
  maxDeadlineSeconds?: number;
}

/** One action request, as the policies see it. Ids are plain ids; the engine adds the entity types. */
export interface RequestFacts {
  /** `Tenant` id the request is made in. */
  tenant: string;
  /** `User` id: the OAuth `sub` of the human the agent acts for. */
  principal: string;
  /** The agent's SPIFFE ID. */
  agent: string;
  /** `Tool` id. */
  tool: string;
  taskId: string;
  summary: string;
  /** base64url SHA-256 of the canonical arguments (never the arguments). */
  argsSha256: string;
  /** The resource the call touches, as a Cedar entity reference (type `Resource` in the schema). */
  target?: { type: string; id: string };
}

/** An approval decision's facts: the request, who decides, and the groups the request was routed to. */
export type ApprovalFacts = RequestFacts & { approver: string; approverGroups?: string[] };

/** Who must approve an allowed request. */
export interface Routing {
  /** `Role` ids whose members are asked, in policy order, without duplicates. Never empty. */
  approverGroups: string[];
  /** Distinct approvers needed (at least 1). */
  quorum: number;
  /** Approval deadline in seconds; absent when no policy sets one (the caller applies its default). */
  deadlineSeconds?: number;
  /** Slack card: Approve asks for confirmation (`@critical`). */
  critical?: true;
  /** Approving needs a reason too (`@approve_reason_required`). */
  approveReasonRequired?: true;
  /** `@remind_every_seconds`: remind the approver channels this often while pending. */
  remindEverySeconds?: number;
  /** `@escalate_to`: groups asked as well after `escalateAfterSeconds` (`@escalate_after_seconds`). */
  escalateTo?: string[];
  escalateAfterSeconds?: number;
}

/** Decision on `Action::"request"`. `policyIds` are the determining policies (sorted). */
export type RequestDecision =
  | { decision: "allow"; approval: "none"; policyVersion: string; policyIds: string[] }
  | { decision: "allow"; approval: "required"; routing: Routing; policyVersion: string; policyIds: string[] }
  | { decision: "deny"; reason: "policy_denied" | "policy_unavailable"; message: string; policyVersion: string; policyIds: string[] };

/** Decision on `Action::"approve"`. `policyIds` are the determining policies (sorted). */
export type ApproveDecision =
  | {
      decision: "allow";
      policyVersion: string;
      policyIds: string[];
      /** The routed approver groups the approver is a member of (when groups were given to check). */
      groups?: string[];
    }
  | {
      decision: "deny";
      reason: "approver_not_entitled" | "self_approval_forbidden" | "policy_unavailable";
      message: string;
      policyVersion: string;
      policyIds: string[];
    };

/**
 * Authorization decisions from the policies and directory as they are on disk *now*: every call
 * first checks the files (see `loadPolicyEngine`). Decisions never throw; errors are denials.
 */
export interface PolicyEngine {
  /** May `facts.principal` have `facts.agent` call `facts.tool` for this task, and who must approve? */
  authorizeRequest(facts: RequestFacts): RequestDecision;
  /**
   * May `facts.approver` approve this request (separation of duties included)? With
   * `approverGroups` (the request's routing), the approver must also be a member of one of them.
   */
  authorizeApproval(facts: ApprovalFacts): ApproveDecision;
  /** Content hash of the policy files + schema: `sha256:<hex>` (also while they are broken). */
  version(): string;
  /** Why decisions are unavailable now (policies or directory do not load), or undefined when they are available. */
  unavailable(): string | undefined;
  /** The directory user, for display/routing, or undefined (also while the directory is unavailable). */
  user(id: string): DirectoryUser | undefined;
  /**
   * Ids of the users directly in `Role::"<group>"` (for routing approvers), sorted; empty while
   * unavailable. Spans tenants: filter by `user(id).tenant`; `authorizeApproval` enforces it anyway.
   */
  usersInGroup(group: string): string[];
  /** Ids of the users with this `slackUserId` (Slack identity mapping), sorted; empty while unavailable. */
  usersBySlackId(slackUserId: string): string[];
  /** Ids of the users with this email (case-insensitive), sorted; empty while unavailable. */
  usersByEmail(email: string): string[];
}

type Loaded<T> = { ok: true; value: T } | { ok: false; error: ConfigError };

function asConfigError(err: unknown): ConfigError {
  if (err instanceof ConfigError) return err;
  return new ConfigError("config_invalid", `cannot load policies: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/**
 * Load and validate the policy folder and the directory, and return an engine over them.
 *
 * Reloading: on every call the engine `stat`s the policy files (names, mtime ns, ctime ns, size,
 * inode) and the directory file; when the signature changed (or, right after a write, when the
 * content changed under an unchanged signature) it reloads before deciding. A policy change
 * reloads the directory too (it is validated against the schema). No watcher, no timers: the
 * decision after a write always sees that write.
 *
 * Failing closed: when a reload fails, every decision is a deny with reason `policy_unavailable`
 * whose message carries the load error, until the files load again. The previous policies are
 * not kept.
 *
 * Policy ids are `@id("…")` when present, else `<file name>:<index>` (0-based position in the
 * file); see `loadPolicySet`.
 *
 * @throws ConfigError `config_invalid` naming the file (and line when known) when the policies,
 * schema, routing annotations or directory are invalid at start-up.
 */
export function loadPolicyEngine(opts: PolicyEngineOptions): PolicyEngine {
  const policyFiles = new WatchedFiles(() => listPolicyFiles(opts.policiesDir));
  const directoryFiles = new WatchedFiles(() => [opts.directoryFile]);
  let version = "";

  const loadPolicies = (): Loaded<LoadedPolicySet> => {
    const read = policyFiles.read();
    version = read.contentHash;
    try {
      return { ok: true, value: loadPolicySet(opts.policiesDir, read, opts.maxDeadlineSeconds !== undefined ? { maxDeadlineSeconds: opts.maxDeadlineSeconds } : {}) };
    } catch (err) {
      return { ok: false, error: asConfigError(err) };
    }
  };
  const loadDirectory = (policies: Loaded<LoadedPolicySet>): Loaded<Directory> => {
    const read = directoryFiles.read();
    if (!policies.ok) return { ok: false, error: new ConfigError("config_invalid", "the directory is not loaded while the policies are invalid") };
    const file = read.files[0];
    if (read.error !== undefined || file === undefined) {
      return { ok: false, error: new ConfigError("config_invalid", `cannot read the directory ${opts.directoryFile}: ${read.error ?? "no file"}`) };
    }
    try {
      return { ok: true, value: parseDirectory(file.path, file.text, policies.value.schemaText) };
    } catch (err) {
      return { ok: false, error: asConfigError(err) };
    }
  };

  let policies = loadPolicies();
  if (!policies.ok) throw policies.error;
  let directory = loadDirectory(policies);
  if (!directory.ok) throw directory.error;

  const refresh = (): void => {
    const policiesChanged = policyFiles.changed();
    if (policiesChanged) policies = loadPolicies();
    if (policiesChanged || directoryFiles.changed()) directory = loadDirectory(policies);
  };

  /** The loaded state, or why decisions are unavailable. */
  const current = (): { policies: LoadedPolicySet; directory: Directory } | { unavailable: string } => {
    try {
      refresh();
    } catch (err) {
      return { unavailable: `policy files could not be checked: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (!policies.ok) return { unavailable: `policies unavailable: ${policies.error.message}` };
    if (!directory.ok) return { unavailable: `directory unavailable: ${directory.error.message}` };
    return { policies: policies.value, directory: directory.value };
  };

  return {
    authorizeRequest(facts) {
      const state = current();
      if ("unavailable" in state) {
        return { decision: "deny", reason: "policy_unavailable", message: state.unavailable, policyVersion: version, policyIds: [] };
      }
      return decideRequest(state.policies, state.directory, facts);
    },
    authorizeApproval(facts) {
      const state = current();
      if ("unavailable" in state) {
        return { decision: "deny", reason: "policy_unavailable", message: state.unavailable, policyVersion: version, policyIds: [] };
      }
      return decideApproval(state.policies, state.directory, facts);
    },
    version() {
      current();
      return version;
    },
    unavailable() {
      const state = current();
      return "unavailable" in state ? state.unavailable : undefined;
    },
    user(id) {
      const state = current();
      return "unavailable" in state ? undefined : state.directory.user(id);
    },
    usersBySlackId(slackUserId) {
      const state = current();
      return "unavailable" in state ? [] : state.directory.usersBySlackId(slackUserId);
    },
    usersByEmail(email) {
      const state = current();
      return "unavailable" in state ? [] : state.directory.usersByEmail(email);
    },
    usersInGroup(group) {
      const state = current();
      return "unavailable" in state ? [] : state.directory.usersInGroup(group);
    },
  };
}
