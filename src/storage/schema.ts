import type { Generated } from "kysely";

/** Times are epoch milliseconds, booleans 0/1, bytes BLOB/bytea: one representation on both engines. */
export interface Database {
  settings: { key: string; value: string; sealed: Buffer | null };
  vaults: {
    id: string;
    name: string;
    sku: string;
    soft_delete_retention_days: number;
    purge_protection: number;
    require_complete_chain: number;
    near_expiry_days: number;
    created_at: number;
    updated_at: number;
  };
  objects: {
    vault_id: string;
    collection: string;
    /** Lower-cased name: Key Vault names are case-insensitive. */
    name_key: string;
    name: string;
    latest_version: string;
    deleted_at: number | null;
    scheduled_purge_at: number | null;
    /** JSON of the object's policy (key rotation policy, certificate policy), if any. */
    policy: string | null;
    created_at: number;
  };
  object_versions: {
    seq: Generated<number>;
    vault_id: string;
    collection: string;
    name_key: string;
    version: string;
    /** The sealed secret value, or the key protector's material. */
    payload: Buffer;
    /** JSON of the collection's own fields (content type, key type, public key…). */
    properties: string;
    tags: string;
    enabled: number;
    not_before: number | null;
    expires_at: number | null;
    managed: number;
    created_at: number;
    updated_at: number;
  };
  principals: {
    id: string;
    client_id: string;
    display_name: string;
    kind: string;
    enabled: number;
    created_at: number;
  };
  client_secrets: {
    id: string;
    principal_id: string;
    hash: string;
    hint: string;
    expires_at: number | null;
    created_at: number;
  };
  audit_log: {
    seq: number;
    time: number;
    request_id: string;
    principal_id: string | null;
    client_id: string | null;
    vault: string | null;
    operation: string;
    object_id: string | null;
    version: string | null;
    outcome: string;
    status: number;
    client_address: string;
    detail: string | null;
    prev_hash: string;
    hash: string;
  };
  audit_head: {
    id: number;
    seq: number;
    hash: string;
    base_seq: number;
    base_hash: string;
    mac: string | null;
  };
  /** In the main database beside the changes themselves: one row per committed audited change. */
  audit_changes: { seq: number; request_id: string; mac: string };
  certificate_operations: {
    vault_id: string;
    name_key: string;
    name: string;
    request_id: string;
    status: string;
    status_details: string | null;
    issuer_name: string;
    csr: Buffer;
    cancellation_requested: number;
    error_code: string | null;
    error_message: string | null;
    policy: string;
    tags: string;
    target_version: string | null;
    key_material: Buffer | null;
    key_version: string;
    created_at: number;
    updated_at: number;
    approval_id: string | null;
    approval_released: number;
  };
  certificate_issuers: {
    vault_id: string;
    name_key: string;
    name: string;
    provider: string;
    account_id: string | null;
    sealed_password: Buffer | null;
    organization_id: string | null;
    administrators: string;
    enabled: number;
    created_at: number;
    updated_at: number;
  };
  certificate_contacts: { vault_id: string; contacts: string };
  job_leases: { name: string; owner: string; lease_until: number };
  events: {
    seq: Generated<number>;
    id: string;
    type: string;
    vault_id: string;
    vault_name: string;
    object_type: string;
    object_name: string;
    version: string;
    not_before: number | null;
    expires_at: number | null;
    detail: string | null;
    time: number;
    /** JSON of an alert event's data; null for vault object events. */
    data: string | null;
  };
  certificate_renewals: {
    vault_id: string;
    name_key: string;
    from_version: string;
    status: string;
    attempts: number;
    retry_at: number | null;
    claimed_at: number;
    error: string | null;
    /** The operation an asynchronous renewal waits on. */
    request_id: string | null;
  };
  webhook_subscriptions: {
    id: string;
    name: string;
    endpoint: string;
    event_types: string;
    vaults: string;
    subject_begins_with: string | null;
    schema_name: string;
    sealed_secret: Buffer | null;
    status: string;
    cursor: number;
    created_at: number;
    updated_at: number;
  };
  webhook_deliveries: {
    subscription_id: string;
    event_id: string;
    event_seq: number;
    attempts: number;
    next_attempt_at: number;
    /** When this round of attempts began (enqueue or replay): the 24-hour window counts from here. */
    since: number;
    status: string;
    last_error: string | null;
  };
  /** One row per notice raised, so a near-expiry or expiry notice goes out once per version. */
  event_marks: { vault_id: string; collection: string; name_key: string; version: string; kind: string };
  client_certificates: {
    id: string;
    principal_id: string;
    thumbprint_sha1: string;
    thumbprint_sha256: string;
    der: Buffer;
    expires_at: number;
    created_at: number;
  };
  federated_credentials: {
    id: string;
    principal_id: string;
    name: string;
    issuer: string;
    subject: string;
    /** JSON array. */
    audiences: string;
    /** JSON JWK Set, when the issuer's keys are pinned instead of discovered. */
    jwks: string | null;
    created_at: number;
  };
  group_members: { group_id: string; member_id: string };
  role_definitions: {
    id: string;
    /** Lower-cased name: role names are unique regardless of case. */
    name_key: string;
    name: string;
    description: string;
    /** JSON arrays of action patterns. */
    actions: string;
    not_actions: string;
    data_actions: string;
    not_data_actions: string;
    created_at: number;
  };
  role_assignments: { id: string; principal_id: string; role_id: string; scope: string; created_at: number };
  /** JSON arrays of permission names per collection. */
  access_policies: {
    vault_id: string;
    principal_id: string;
    keys: string;
    secrets: string;
    certificates: string;
  };
  vault_access: { vault_id: string; enable_rbac_authorization: number; ip_rules: string };
  acme_issuer_settings: {
    vault_id: string;
    issuer_key: string;
    issuer_name: string;
    directory_url: string;
    /** JSON array of contact URLs (mailto:…). */
    contacts: string;
    /** JSON of the challenge settings. */
    challenge: string;
    created_at: number;
    updated_at: number;
  };
  acme_accounts: {
    vault_id: string;
    issuer_key: string;
    directory_url: string;
    sealed_key: Buffer;
    account_url: string | null;
    created_at: number;
  };
  acme_orders: {
    request_id: string;
    vault_id: string;
    issuer_name: string;
    order_url: string;
    /** JSON of the challenges presented, to clean up when the order ends. */
    presented: string;
    created_at: number;
  };
  acme_challenges: { token: string; key_authorization: string; created_at: number };
  acme_renewal_info: {
    vault_id: string;
    name_key: string;
    version: string;
    issuer_key: string;
    renewal_info_url: string;
    renew_at: number | null;
    next_check_at: number;
  };
  ca_authorities: {
    id: string;
    name_key: string;
    name: string;
    kind: string;
    status: string;
    parent_id: string | null;
    subject: string;
    key_algorithm: string;
    protection: string;
    public_key: string;
    /** The protector's material: a sealed key or an HSM object id, never a plaintext key. */
    key_material: Buffer;
    certificate: Buffer | null;
    chain: string;
    csr: Buffer | null;
    path_length: number | null;
    name_constraints: string | null;
    policies: string;
    crl_shards: number;
    crl_number: number;
    not_after: number | null;
    /** JSON of the OCSP responder's certificate, public key and generation. */
    responder: string | null;
    responder_key_material: Buffer | null;
    created_at: number;
    updated_at: number;
  };
  discovery_agents: {
    id: string;
    name: string;
    principal_id: string;
    hostname: string | null;
    version: string | null;
    created_at: number;
    registered_at: number | null;
    last_seen_at: number | null;
  };
  /** Each agent sync's state as the agent last reported it. */
  agent_syncs: {
    agent_id: string;
    name: string;
    source: string;
    state: string;
    error: string | null;
    /** The version the agent last saw in the vault. */
    version: string | null;
    delivered_version: string | null;
    delivered_at: number | null;
    /** JSON array of the absolute paths the sync writes. */
    paths: string;
    failed_since: number | null;
    reported_at: number;
  };
  /** Imports of a certificate's new versions into a remote vault. */
  push_targets: {
    id: string;
    name: string;
    vault_name: string;
    certificate: string;
    remote_vault_id: string;
    target_certificate: string;
    state: string;
    error: string | null;
    version: string | null;
    delivered_version: string | null;
    delivered_at: number | null;
    failed_since: number | null;
    created_at: number;
    updated_at: number;
  };
  discovery_schedules: {
    id: string;
    name: string;
    /** JSON of the scan spec. */
    spec: string;
    agent_id: string | null;
    interval_ms: number;
    next_run_at: number;
    created_at: number;
  };
  discovery_runs: {
    id: string;
    name: string;
    kind: string;
    spec: string;
    agent_id: string | null;
    schedule_id: string | null;
    status: string;
    total: number;
    done: number;
    failed: number;
    lease_owner: string | null;
    lease_until: number | null;
    created_at: number;
    started_at: number | null;
    finished_at: number | null;
    error: string | null;
    /** JSON of the diff against the previous completed run of the same name. */
    diff: string | null;
  };
  discovery_results: {
    run_id: string;
    location: string;
    host: string | null;
    outcome: string;
    error: string | null;
    fingerprint: string | null;
    /** The presented certificates' SHA-256, 32 bytes each, leaf first; their DER is in discovery_certificates. */
    chain_sha256: Buffer | null;
    tls_version: string | null;
    cipher: string | null;
    detail: string | null;
    /** Comma-separated DNS names of the leaf: what later scans of the address send as SNI. */
    dns_names: string | null;
    seen_at: number;
  };
  /** Each certificate a scan saw, once, whichever results present it. */
  discovery_certificates: {
    sha256: Buffer;
    der: Buffer;
  };
  ca_issued: {
    ca_id: string;
    serial: string;
    subject: string;
    not_before: number;
    not_after: number;
    der: Buffer;
    shard: number;
    status: string;
    revoked_at: number | null;
    reason: string | null;
    vault_id: string | null;
    vault_name: string | null;
    certificate_name_key: string | null;
    certificate_name: string | null;
    certificate_version: string | null;
    created_at: number;
  };
  ca_crls: {
    ca_id: string;
    shard: number;
    number: number;
    this_update: number;
    next_update: number;
    der: Buffer;
  };
  inventory_certificates: {
    id: Generated<number>;
    sha256: Buffer;
    der: Buffer;
    subject: string;
    /** Lower-cased subject: the sort key of `--sort subject`. */
    subject_key: string;
    issuer: string;
    serial: string;
    not_before: number;
    not_after: number;
    key_type: string;
    key_size: number | null;
    curve: string | null;
    signature_algorithm: string;
    /** JSON array of { type, value }. */
    sans: string;
    self_signed: number;
    is_ca: number;
    ski: string | null;
    aki: string | null;
    issuer_id: number | null;
    first_seen_at: number;
    owner_team: string | null;
    owner_application: string | null;
    owner_contact: string | null;
    /** "record" (set explicitly, kept) or "tags" (derived, replaced by newer tags); null: no owner. */
    owner_origin: string | null;
  };
  inventory_locations: {
    id: Generated<number>;
    uri: string;
    cert_id: number;
    source: string;
    first_seen_at: number;
    last_seen_at: number;
    gone_at: number | null;
    /** JSON of the observation's detail. */
    detail: string | null;
    /** The certificate served here before the latest change, and when that change was seen. */
    previous_cert_id: number | null;
    changed_at: number | null;
  };
  inventory_terms: { term: string; not_after: number; cert_id: number };
  inventory_facets: { facet: string; value: string; count: number };
  inventory_cursors: { name: string; value: number };
  remote_vaults: {
    id: string;
    /** Lower-cased name, unique. */
    name_key: string;
    name: string;
    kind: string;
    url: string;
    /** JSON of the connector's non-secret settings. */
    settings: string;
    /** JSON of the credential's secret fields, sealed. */
    sealed_secret: Buffer;
    /** JSON array of the secret fields' names. */
    secret_fields: string;
    created_at: number;
    updated_at: number;
    last_sync_at: number | null;
    last_sync_status: string | null;
    last_sync_error: string | null;
    last_sync_certificates: number | null;
    last_sync_gone: number | null;
  };
  remote_vault_locations: { remote_vault_id: string; uri: string };
  organisation_rules: {
    id: string;
    level: string;
    /** The vault's or CA's id, `acme:name` for a profile, empty for the installation. */
    target: string;
    target_name: string;
    kind: string;
    /** JSON of the rule's value. */
    value: string;
    locked: number;
    /** JSON array of entry points, or null for all. */
    entries: string | null;
    created_at: number;
    updated_at: number;
  };
  inventory_findings: {
    id: Generated<number>;
    cert_id: number;
    fingerprint_sha256: string;
    location_uri: string | null;
    kind: string;
    rule_id: string | null;
    reason: string;
    /** kind, rule and location joined: one open finding per record and key. */
    finding_key: string;
    found_at: number;
    resolved_at: number | null;
  };
  inventory_grading_queue: { cert_id: number };
  grading_state: { name: string; value: number };
  alerts: {
    id: string;
    kind: string;
    /** '' when the alert is about no certificate (a silent agent). */
    fingerprint: string;
    /** '' when the alert is about the certificate wherever it is. */
    location: string;
    state: string;
    level: number | null;
    subject: string;
    summary: string;
    not_after: number | null;
    vault_name: string | null;
    owner_contact: string | null;
    revision: number;
    opened_at: number;
    updated_at: number;
    acknowledged_at: number | null;
    acknowledged_by: string | null;
    resolved_at: number | null;
    resolved_by: string | null;
    note: string | null;
    occurrences: number;
  };
  acme_server_profiles: {
    id: string;
    /** Lower-cased name, unique. */
    name_key: string;
    name: string;
    ca_id: string;
    /** JSON of the profile's settings besides its name and CA. */
    settings: string;
    created_at: number;
    updated_at: number;
  };
  acme_server_eab_keys: {
    key_id: string;
    profile_id: string;
    sealed_hmac_key: Buffer;
    account_id: string | null;
    created_at: number;
  };
  acme_server_nonces: { nonce: string; expires_at: number };
  acme_server_accounts: {
    id: string;
    profile_id: string;
    thumbprint: string;
    /** JSON of the public JWK. */
    jwk: string;
    /** JSON array of mailto: URLs. */
    contacts: string;
    status: string;
    eab_key_id: string | null;
    created_at: number;
  };
  acme_server_orders: {
    id: string;
    profile_id: string;
    account_id: string;
    status: string;
    /** JSON array of {type, value}. */
    identifiers: string;
    /** JSON array of authorization ids, in the order's identifier order. */
    authz_ids: string;
    expires_at: number;
    /** JSON of the problem that made the order invalid. */
    error: string | null;
    certificate_serial: string | null;
    replaces: string | null;
    created_at: number;
    /** RFC 8555 §7.4: the validity the order asked for, epoch ms. */
    not_before: number | null;
    not_after: number | null;
    /** The CSR of a finalize held for approval, signed once the approval is granted. */
    csr: Buffer | null;
    approval_id: string | null;
    /** Epoch ms until which the node that took a processing order to sign it holds it. */
    lease_until: number | null;
  };
  /** The orders an authorization serves: the one that made it and those that reused it. */
  acme_server_order_authzs: {
    order_id: string;
    authz_id: string;
  };
  acme_server_authzs: {
    id: string;
    order_id: string;
    profile_id: string;
    account_id: string;
    identifier_type: string;
    identifier_value: string;
    wildcard: number;
    status: string;
    expires_at: number;
    created_at: number;
  };
  acme_server_challenges: {
    id: string;
    authz_id: string;
    type: string;
    token: string;
    status: string;
    validated_at: number | null;
    /** JSON of the problem of a failed validation. */
    error: string | null;
    lease_until: number | null;
  };
  enrollment_profiles: {
    id: string;
    /** "est" or "scep". */
    kind: string;
    /** Lower-cased label, unique per kind. */
    label_key: string;
    label: string;
    ca_id: string;
    validity_days: number;
    /** JSON array of EKU OIDs. */
    ekus: string;
    /** JSON array of the client ids allowed to enroll with HTTP Basic (empty: any enabled principal). */
    principals: string;
    approval: number;
    ra_certificate: Buffer | null;
    ra_key_sealed: Buffer | null;
    created_at: number;
    /** The key type csrattrs asks for (`EC-P256`, `RSA-2048`, …); null accepts any. */
    key_type: string | null;
  };
  scep_challenges: {
    hash: string;
    profile_id: string;
    created_at: number;
    expires_at: number;
    used_at: number | null;
  };
  scep_transactions: {
    profile_id: string;
    transaction_id: string;
    status: string;
    /** SHA-256 hex of the certificate that signed the request. */
    requester: string;
    csr: Buffer;
    ca_id: string | null;
    serial: string | null;
    created_at: number;
    updated_at: number;
    /** The approval request holding a pending request. */
    approval_id: string | null;
    /** Epoch ms until which the node that took an approved request to sign it holds it. */
    lease_until: number | null;
  };
  approval_requests: {
    id: string;
    entry: string;
    /** JSON of the rule scope the request landed in. */
    scope: string;
    requester: string;
    summary: string;
    /** JSON array of the conditions that matched. */
    because: string;
    required: number;
    state: string;
    /** JSON array of the votes cast. */
    votes: string;
    /** JSON of what the entry point needs to finish the request. */
    payload: string;
    outcome: string | null;
    created_at: number;
    expires_at: number;
    decided_at: number | null;
    /** JSON `{caId, serial}` of the certificate a released CA sign produced. */
    issued: string | null;
  };
  campaigns: {
    id: string;
    name: string;
    /** JSON of the InventoryQuery. */
    query: string;
    /** JSON of the CampaignOptions. */
    options: string;
    state: string;
    created_at: number;
    started_at: number | null;
    finished_at: number | null;
  };
  campaign_items: {
    campaign_id: string;
    fingerprint: string;
    subject: string;
    action: string;
    vault_name: string | null;
    certificate_name: string | null;
    from_version: string | null;
    /** JSON array of location URIs. */
    locations: string;
    state: string;
    attempts: number;
    claimed_at: number | null;
    first_claimed_at: number | null;
    /** The attempt holding the claim; only its batch may settle the item. */
    claim_token: string | null;
    abandoned_claims: string | null;
    to_version: string | null;
    revocation: string | null;
    error: string | null;
    done_at: number | null;
  };
  local_users: {
    principal_id: string;
    /** Lower-cased: sign-in names are compared without case. */
    username: string;
    password_hash: string | null;
    password_changed_at: number | null;
    created_at: number;
  };
  ui_sessions: {
    /** Keyed digest of the session id the cookie carries; the id itself is never stored. */
    id_digest: string;
    principal_id: string;
    method: string;
    created_at: number;
    last_seen_at: number;
  };
  sign_in_failures: {
    /** `user:<name>` or `address:<ip>`. */
    key: string;
    failures: number;
    first_failure_at: number;
    locked_until: number | null;
  };
}
