import type { Campaign, CampaignItem, CampaignProgress } from "../../domain/campaigns/model.js";

/** A campaign as the admin API and `strongroom campaign --json` show it. */
export const campaignView = (c: Campaign) => ({
  id: c.id,
  name: c.name,
  state: c.state,
  query: c.query,
  options: c.options,
  createdAt: c.createdAt.toISOString(),
  startedAt: c.startedAt?.toISOString() ?? null,
  finishedAt: c.finishedAt?.toISOString() ?? null,
});

export const progressView = (p: CampaignProgress) => ({
  total: p.total,
  done: p.done,
  failed: p.failed,
  remaining: p.remaining,
  tasks: p.tasks,
  ratePerSecond: Math.round(p.ratePerSecond * 100) / 100,
  etaSeconds: p.etaSeconds ?? null,
});

export const itemView = (i: CampaignItem & { step?: string }) => ({
  fingerprintSha256: i.fingerprint,
  subject: i.subject,
  action: i.action,
  state: i.state,
  vault: i.vaultName ?? null,
  certificate: i.certificateName ?? null,
  fromVersion: i.fromVersion ?? null,
  toVersion: i.toVersion ?? null,
  locations: i.locations,
  attempts: i.attempts,
  revocation: i.revocation ?? null,
  error: i.error ?? null,
  ...(i.step !== undefined && { step: i.step }),
});
