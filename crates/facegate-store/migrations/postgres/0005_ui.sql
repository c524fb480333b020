-- Admin web UI sessions are rows of `refresh_tokens` with kind = 'ui', so
-- every event that already ends a session (logout, disabled account, new
-- password, removed membership, deleted organisation) ends UI sessions too.
-- `seen_at` carries the idle timeout; `expires_at` is the absolute one.
-- A UI row can never be rotated through /api/v1/auth/refresh (kind = 'api' only).
ALTER TABLE refresh_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';
ALTER TABLE refresh_tokens ADD COLUMN seen_at BIGINT;
