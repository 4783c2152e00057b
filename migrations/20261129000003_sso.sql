-- Single sign-on through OpenID Connect. One provider, configured by administrators.
-- Portable SQL; times are Unix milliseconds.
CREATE TABLE sso_settings (
    id BIGINT PRIMARY KEY,
    enabled BIGINT NOT NULL DEFAULT 0,
    issuer_url TEXT NOT NULL DEFAULT '',
    client_id TEXT NOT NULL DEFAULT '',
    -- Needed to redeem authorization codes, so kept as is; never shown or logged.
    client_secret TEXT NOT NULL DEFAULT '',
    username_claim TEXT NOT NULL DEFAULT 'preferred_username',
    groups_claim TEXT NOT NULL DEFAULT 'groups',
    -- Create a user on first sign-in (otherwise an administrator creates it first).
    create_users BIGINT NOT NULL DEFAULT 1,
    label TEXT NOT NULL DEFAULT 'single sign-on',
    updated_at BIGINT NOT NULL DEFAULT 0
);

-- Users signed in through the provider: its issuer and `sub`, so a renamed account stays linked
-- and a provider account never takes over a local one of the same name.
ALTER TABLE users ADD COLUMN sso_subject TEXT;
CREATE UNIQUE INDEX users_sso_subject ON users (sso_subject);

-- A team may follow a group of the provider: its members are then the users whose sign-in
-- carried that group.
ALTER TABLE teams ADD COLUMN sso_group TEXT;
