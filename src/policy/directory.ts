// The directory: users, roles, tenants, tools and resources as Cedar entities, read from one YAML
// or JSON file (an array of Cedar entity JSON objects) and validated against the policy schema.
import { checkParseEntities, type EntityJson } from "./cedar.js";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { ConfigError } from "../errors.js";

const EntityUidSchema = z.strictObject({ type: z.string().min(1), id: z.string() });

/** A reference to an entity: `{type, id}` or Cedar's explicit `{__entity: {type, id}}`. */
const EntityRefSchema = z.union([EntityUidSchema, z.strictObject({ __entity: EntityUidSchema }).transform((ref) => ref.__entity)], {
  error: "an entity reference {type, id} is expected",
});

const DirectoryEntitySchema = z.strictObject({
  uid: EntityRefSchema,
  attrs: z.record(z.string(), z.unknown()).default({}),
  parents: z.array(EntityRefSchema).default([]),
  tags: z.record(z.string(), z.unknown()).optional(),
});

/** The directory file: a list of Cedar entities. */
const DirectoryFileSchema = z.array(DirectoryEntitySchema);
type DirectoryFile = z.infer<typeof DirectoryFileSchema>;

/** A directory user as the rest of countersign sees it. The id is the human's OAuth `sub`. */
export interface DirectoryUser {
  id: string;
  /** Tenant id (the `Tenant` entity id). */
  tenant?: string;
  email?: string;
  slackUserId?: string;
  displayName?: string;
  /** Ids of the `Role` entities the user is directly in. */
  roles: string[];
}

/** The loaded directory: the entities for Cedar, plus user look-ups for display and routing. */
export interface Directory {
  entities: EntityJson[];
  /** A copy of the user's record, or undefined when there is no `User` with that id. */
  user(id: string): DirectoryUser | undefined;
  /** Ids of the users directly in `Role::"<group>"`, sorted. */
  usersInGroup(group: string): string[];
  /** Ids of every `Role` the user is in, directly or through parents (Cedar's `in`), sorted; empty for an unknown user. */
  rolesOf(userId: string): string[];
  /** Ids of the users whose `slackUserId` is `slackUserId`, sorted (more than one is ambiguous: the caller refuses). */
  usersBySlackId(slackUserId: string): string[];
  /** Ids of the users whose `email` is `email` (compared case-insensitively), sorted. */
  usersByEmail(email: string): string[];
  /**
   * The entities a Cedar evaluation that starts from `seeds` can reach: the seeds, and transitively
   * every entity named as a parent, or by an attribute or tag value (at any depth), of one reached.
   * Cedar reaches entities only from the request's references and the policies' literals, so a
   * decision over this slice equals one over every entity (proven by test/policy/entity-slice.test.ts).
   * From an index built once per directory load.
   */
  reachable(seeds: Iterable<EntityUid>): EntityJson[];
}

/** An entity reference. */
export interface EntityUid {
  type: string;
  id: string;
}

/**
 * Every entity reference inside a JSON value, at any depth: Cedar's `{__entity: {type, id}}`, or an
 * object with string `type` and `id` (the implicit form the schema allows). Over-reading (a record
 * that merely has such fields) only widens a slice, never narrows it.
 */
export function entityRefsIn(value: unknown, into: EntityUid[] = []): EntityUid[] {
  if (Array.isArray(value)) {
    for (const item of value) entityRefsIn(item, into);
  } else if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (typeof record.type === "string" && typeof record.id === "string") into.push({ type: record.type, id: record.id });
    for (const inner of Object.values(record)) entityRefsIn(inner, into);
  }
  return into;
}

function stringAttr(attrs: Record<string, unknown>, name: string): string | undefined {
  const value = attrs[name];
  return typeof value === "string" ? value : undefined;
}

function entityIdAttr(attrs: Record<string, unknown>, name: string): string | undefined {
  const parsed = EntityRefSchema.safeParse(attrs[name]);
  return parsed.success ? parsed.data.id : undefined;
}

function uidText(uid: { type: string; id: string }): string {
  return `${uid.type}::${JSON.stringify(uid.id)}`;
}

function indexUsers(entities: DirectoryFile): Map<string, DirectoryUser> {
  const users = new Map<string, DirectoryUser>();
  for (const entity of entities) {
    if (entity.uid.type !== "User") continue;
    const optional = {
      tenant: entityIdAttr(entity.attrs, "tenant"),
      email: stringAttr(entity.attrs, "email"),
      slackUserId: stringAttr(entity.attrs, "slackUserId"),
      displayName: stringAttr(entity.attrs, "displayName"),
    };
    const user: DirectoryUser = {
      id: entity.uid.id,
      // Absent attributes are left out, not set to undefined.
      ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
      roles: entity.parents.filter((p) => p.type === "Role").map((p) => p.id),
    };
    users.set(user.id, user);
  }
  return users;
}

/** User ids by a key of theirs (users without one are left out), each list sorted. */
function indexBy(users: Map<string, DirectoryUser>, key: (user: DirectoryUser) => string | undefined): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const user of users.values()) {
    const k = key(user);
    if (k !== undefined) index.set(k, [...(index.get(k) ?? []), user.id]);
  }
  for (const ids of index.values()) ids.sort();
  return index;
}

/**
 * Parse and validate the directory file's text. YAML and JSON are both accepted (JSON is YAML).
 *
 * @throws ConfigError `config_invalid` naming the file, with the line when the problem can be
 * placed: YAML syntax, shape (not an array of `{uid, attrs, parents}`), duplicate entities,
 * entities that do not conform to the schema (`checkParseEntities` with the schema).
 */
export function parseDirectory(file: string, text: string, schemaText: string): Directory {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineOf = (path: Array<string | number>): string => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    return node?.range === undefined ? file : `${file}:${lineCounter.linePos(node.range[0]).line}`;
  };
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    const at = lineCounter.linePos(firstError.pos[0]);
    throw new ConfigError("config_invalid", `invalid directory ${file}:${at.line}:${at.col}: ${firstError.message}`);
  }
  const parsed = DirectoryFileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => {
      const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
      return `${lineOf(path)}: ${path.length > 0 ? path.join(".") : "(root)"}: ${issue.message}`;
    });
    throw new ConfigError("config_invalid", `invalid directory ${file}: an array of Cedar entities {uid, attrs, parents} is expected:\n  ${issues.join("\n  ")}`);
  }
  const entities = parsed.data;
  const seen = new Set<string>();
  entities.forEach((entity, index) => {
    const key = uidText(entity.uid);
    if (seen.has(key)) throw new ConfigError("config_invalid", `invalid directory ${lineOf([index])}: entity ${key} is listed twice`);
    seen.add(key);
  });
  const cedarEntities: EntityJson[] = entities.map((e) => ({
    uid: e.uid,
    attrs: e.attrs as EntityJson["attrs"],
    parents: e.parents,
    ...(e.tags === undefined ? {} : { tags: e.tags as NonNullable<EntityJson["tags"]> }),
  }));
  const check = checkParseEntities({ entities: cedarEntities, schema: schemaText });
  if (check.type === "failure") {
    // Cedar does not say where; check entities one by one to point at the first bad one.
    const badIndex = cedarEntities.findIndex((entity) => checkParseEntities({ entities: [entity], schema: schemaText }).type === "failure");
    const at = badIndex < 0 ? file : lineOf([badIndex]);
    throw new ConfigError("config_invalid", `invalid directory ${at}: ${check.errors.map((e) => e.message).join("; ")}`);
  }
  const users = indexUsers(entities);
  // Slack's identity mapping asks on every click: indexed once per directory load.
  const bySlackId = indexBy(users, (u) => u.slackUserId);
  const byEmail = indexBy(users, (u) => u.email?.toLowerCase());
  const parentsOf = new Map(entities.map((e) => [uidText(e.uid), e.parents]));
  // Per entity: itself, and the keys of the entities it names (parents, attribute and tag values).
  const reach = new Map(
    entities.map((e, i) => [uidText(e.uid), { entity: cedarEntities[i] as EntityJson, next: [...e.parents, ...entityRefsIn(e.attrs), ...entityRefsIn(e.tags ?? {})].map(uidText) }]),
  );
  return {
    entities: cedarEntities,
    user(id) {
      const user = users.get(id);
      return user === undefined ? undefined : { ...user, roles: [...user.roles] };
    },
    usersBySlackId(slackUserId) {
      return [...(bySlackId.get(slackUserId) ?? [])];
    },
    usersByEmail(email) {
      return [...(byEmail.get(email.toLowerCase()) ?? [])];
    },
    usersInGroup(group) {
      return [...users.values()]
        .filter((user) => user.roles.includes(group))
        .map((user) => user.id)
        .sort();
    },
    reachable(seeds) {
      const found: EntityJson[] = [];
      const seen = new Set<string>();
      const pending = [...seeds].map(uidText);
      for (let key = pending.pop(); key !== undefined; key = pending.pop()) {
        if (seen.has(key)) continue;
        seen.add(key);
        const node = reach.get(key);
        if (node === undefined) continue; // not in the directory: Cedar sees no attributes and no parents either way
        found.push(node.entity);
        pending.push(...node.next);
      }
      return found;
    },
    rolesOf(userId) {
      const roles = new Set<string>();
      const seen = new Set<string>();
      const pending = [...(parentsOf.get(uidText({ type: "User", id: userId })) ?? [])];
      for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
        const key = uidText(next);
        if (seen.has(key)) continue;
        seen.add(key);
        if (next.type === "Role") roles.add(next.id);
        pending.push(...(parentsOf.get(key) ?? []));
      }
      return [...roles].sort();
    },
  };
}
