-- Every browser session stores the generation of its user at sign-in and is valid only while
-- the user's generation is still the same: a password change, a reset or disabling the user
-- raises it, which ends all the user's sessions at once, on every replica.
ALTER TABLE users ADD COLUMN session_generation BIGINT NOT NULL DEFAULT 0;

-- The OAuth2 client that asked for a refresh token (`client_id`, e.g. docker), shown on Profile.
ALTER TABLE refresh_tokens ADD COLUMN client TEXT;
