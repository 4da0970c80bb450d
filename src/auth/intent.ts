// The intent check: a request must serve a task the human authorized in their token, when the token names tasks.
import { AuthError } from "../errors.js";
import type { AgentTask, VerifiedPrincipal } from "./verify-principal.js";

/** The parts of an action request the intent check compares with the principal's authorized tasks. */
export interface IntentRequest {
  tenant: string;
  tool: string;
  taskId: string;
}

function permits(task: AgentTask, request: IntentRequest): boolean {
  return (
    task.taskId === request.taskId &&
    (task.tools === undefined || task.tools.includes(request.tool)) &&
    (task.tenant === undefined || task.tenant === request.tenant)
  );
}

/**
 * When the principal's token carries `agent_task` authorization details, require one of them to have the
 * request's task id, list the tool (when it lists tools) and name the tenant (when it names one).
 * A token without such details passes: the intent still goes to policy.
 * Throws AuthError `intent_mismatch`; the message says which part differs, never the values.
 */
export function checkIntent(principal: VerifiedPrincipal, request: IntentRequest): void {
  if (principal.tasks.length === 0) return;
  if (principal.tasks.some((task) => permits(task, request))) return;
  const sameTask = principal.tasks.filter((task) => task.taskId === request.taskId);
  const reason =
    sameTask.length === 0
      ? "task"
      : sameTask.some((task) => task.tools === undefined || task.tools.includes(request.tool))
        ? "tenant"
        : "tool";
  const messages = {
    task: "the request's task is not one the principal authorized",
    tool: "the tool is not authorized for the request's task",
    tenant: "the tenant is not authorized for the request's task",
  } as const;
  throw new AuthError("intent_mismatch", messages[reason], { detail: { reason } });
}
