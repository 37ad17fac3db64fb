// Errors as the user should see them: a Connect error's code and message, and protovalidate's
// field violations (an error detail) by field path, so a form shows each next to its field.
import { Code, ConnectError } from "@connectrpc/connect";
import { ViolationsSchema, type FieldPathElement } from "@mercato/api/buf/validate/validate_pb";

/** A failed call, ready to display. */
export interface Problem {
  code: Code;
  /** One sentence for the whole form or page. */
  message: string;
  /** Violation messages by field path ("email", "price.amount_minor", "items[0].quantity"). */
  fields: Map<string, string[]>;
}

const friendly: Partial<Record<Code, string>> = {
  [Code.InvalidArgument]: "Please correct the highlighted fields.",
  [Code.Unauthenticated]: "Please sign in again.",
  [Code.PermissionDenied]: "You are not allowed to do that.",
  [Code.NotFound]: "Not found.",
  [Code.AlreadyExists]: "That already exists.",
  [Code.FailedPrecondition]: "That cannot be done now.",
  [Code.ResourceExhausted]: "Too many requests; try again in a moment.",
  [Code.Unavailable]: "The shop is unreachable right now; try again in a moment.",
  [Code.DeadlineExceeded]: "The shop took too long to answer; try again.",
};

/** problem turns anything a call threw into a Problem. */
export function problem(err: unknown): Problem {
  const ce = ConnectError.from(err);
  const fields = new Map<string, string[]>();
  for (const v of ce.findDetails(ViolationsSchema).flatMap((d) => d.violations)) {
    const path = fieldPath(v.field?.elements ?? []);
    fields.set(path, [...(fields.get(path) ?? []), v.message]);
  }
  let message = friendly[ce.code] ?? "Something went wrong.";
  if (ce.code === Code.InvalidArgument && fields.size === 0) message = ce.rawMessage || message;
  if (ce.code === Code.Unauthenticated || ce.code === Code.PermissionDenied || ce.code === Code.AlreadyExists) {
    message = ce.rawMessage ? `${message} (${ce.rawMessage})` : message;
  }
  return { code: ce.code, message, fields };
}

/** fieldPath renders a violation's path the way the proto names it: a.b[2].c */
export function fieldPath(elements: FieldPathElement[]): string {
  let out = "";
  for (const e of elements) {
    out += (out ? "." : "") + e.fieldName;
    const s = e.subscript;
    if (s.case !== undefined) out += `[${String(s.value)}]`;
  }
  return out || "(request)";
}
