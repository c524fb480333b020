-- Admin web UI sessions are rows of `refresh_tokens` with kind = 'ui', so
-- every event that already ends a session (logout, disabled account, new
-- password, removed membership, deleted organisation) ends UI sessions too.
-- `seen_at` carries the idle timeout; `expires_at` is the absolute one.
-- A UI row can never be rotated through /api/v1/auth/refresh (kind = 'api' only).
ALTER TABLE refresh_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';
ALTER TABLE refresh_tokens ADD COLUMN seen_at BIGINT;

-- Consent and retention of a person's biometric data (GDPR/BIPA-style
-- records), kept beside the person row so the people API's shape is
-- unchanged. One row per person at most; gone with the person.
CREATE TABLE person_privacy (
    person_id TEXT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    -- When consent to process the face was given (Unix ms); NULL = not recorded.
    consent_at BIGINT,
    -- How and by whom (a form's reference, a note).
    consent_note TEXT NOT NULL DEFAULT '',
    -- Local day (YYYY-MM-DD) after which the face templates must be deleted.
    retain_until TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX person_privacy_org ON person_privacy(org_id);
