-- An email is unique within an organisation, not across them: an admin
-- creating an account must not learn that the address has an account in
-- another tenant. SQLite cannot drop a column's UNIQUE, so the table is
-- rebuilt. Migrations run in a transaction with foreign keys on, where
-- dropping `accounts` cascades to its children: they are kept aside and
-- put back.
CREATE TEMP TABLE keep_memberships AS SELECT * FROM memberships;
CREATE TEMP TABLE keep_refresh_tokens AS SELECT * FROM refresh_tokens;

CREATE TABLE accounts_rebuilt (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO accounts_rebuilt (id, email, name, password_hash, failed_logins, locked_until, disabled, created_at, updated_at)
    SELECT id, email, name, password_hash, failed_logins, locked_until, disabled, created_at, updated_at FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_rebuilt RENAME TO accounts;
CREATE INDEX accounts_email ON accounts(email);

INSERT INTO memberships SELECT * FROM keep_memberships
    WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.account_id = keep_memberships.account_id AND m.org_id = keep_memberships.org_id);
INSERT INTO refresh_tokens SELECT * FROM keep_refresh_tokens
    WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.id = keep_refresh_tokens.id);
DROP TABLE keep_memberships;
DROP TABLE keep_refresh_tokens;
