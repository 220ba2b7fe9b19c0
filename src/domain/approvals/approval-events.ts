import { randomUUID } from "node:crypto";
import type { ApprovalEventType, VaultEvent } from "../events/model.js";
import { type ApprovalRequest, approvalData } from "./model.js";

/**
 * The outbox event of an approval request's change; its data is the request as it now stands. The
 * vault, when the request has one, lets webhook subscriptions filtered by vault receive it.
 */
export function approvalEvent(
  type: ApprovalEventType,
  request: ApprovalRequest,
  time: Date,
  vault?: { id: string; name: string },
): VaultEvent {
  return {
    id: randomUUID(),
    type,
    vaultId: vault?.id ?? "",
    vaultName: vault?.name ?? "",
    objectType: "Approval",
    objectName: request.id,
    version: request.state,
    expiresAt: request.expiresAt,
    time,
    approval: approvalData(request),
  };
}
