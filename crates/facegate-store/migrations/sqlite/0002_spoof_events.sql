-- Liveness events: one row per face whose liveness verdict was `flag` or
-- `reject` under the organisation's policy, and per failed challenge whose
-- passive score failed. Listed by time, device and action, so the index
-- leads with the tenant and the time.
--
-- person_id and device_id are set to NULL when the person or device is
-- deleted: the event stays (it is a security record) but never points at a
-- row that no longer exists, and a deleted person's id is not kept here.
-- score is NULL when the policy is `reject` but the model pack has no
-- liveness model (no face can be shown to be live). snapshot is the submitted
-- image, kept only when the organisation's `store_images` setting is on.
CREATE TABLE spoof_events (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    occurred_at BIGINT NOT NULL,
    device_id TEXT REFERENCES devices(id) ON DELETE SET NULL,
    person_id TEXT REFERENCES people(id) ON DELETE SET NULL,
    score DOUBLE PRECISION,
    threshold DOUBLE PRECISION NOT NULL,
    action TEXT NOT NULL,
    source TEXT NOT NULL,
    snapshot BLOB,
    created_at BIGINT NOT NULL
);
CREATE INDEX spoof_events_org_time ON spoof_events(org_id, occurred_at);
