-- Access (see docs/access.md): who may pull, push, delete and manage what.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL. Times are Unix milliseconds.
--
-- Secrets (robot secrets, personal access tokens, refresh tokens) are random 32-byte values:
-- stored as their SHA-256 (hex), never in clear. User passwords are argon2id (users table).

ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

-- Robot accounts sign in to the registry only (never to the console). `scope` is where the
-- robot belongs: its assignments stay within it, and whoever may manage access over all of it
-- manages the robot.
CREATE TABLE robots (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

-- Personal access tokens: a user's password for registry clients.
CREATE TABLE access_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    UNIQUE (user_id, name)
);

-- Role assignments. subject_kind: 'user' | 'team' | 'robot' | 'anonymous' (subject_id '').
-- role: 'reader' | 'contributor' | 'owner' | 'puller' | 'pusher' | 'deleter'.
-- scope: '' (the whole registry), 'team-a/' (a namespace and below), or a repository name or
-- glob ('team-a/api-*').
CREATE TABLE role_assignments (
    id TEXT PRIMARY KEY,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    role TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    UNIQUE (subject_kind, subject_id, role, scope)
);

-- Refresh tokens of the token server (`offline_token=true`, OAuth2 `access_type=offline`):
-- bound to a subject and the service; when issued for a personal access token, to that token
-- too (revoking it ends them).
CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    access_token_id TEXT,
    service TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject_kind, subject_id);

-- The administrators created so far become Owners of the whole registry.
INSERT INTO role_assignments (id, subject_kind, subject_id, role, scope, created_at, created_by)
SELECT 'owner-' || id, 'user', id, 'owner', '', created_at, NULL FROM users WHERE is_admin = 1;
