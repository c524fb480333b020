-- An email is unique within an organisation, not across them: an admin
-- creating an account must not learn that the address has an account in
-- another tenant.
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_email_key;
CREATE INDEX accounts_email ON accounts(email);
