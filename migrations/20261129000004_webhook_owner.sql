-- The access scope a webhook belongs to: '' (the registry), a namespace ('team-a/') or a
-- repository glob. Whoever may manage webhooks over all of it manages the webhook, and the
-- webhook hears only of repositories inside it, whatever its own event scope says.
ALTER TABLE webhooks ADD COLUMN owner_scope TEXT NOT NULL DEFAULT '';
