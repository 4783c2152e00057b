-- A webhook Wharf stopped (410 Gone, a Slack channel gone, failing for days) is disabled: one
-- state, with the reason beside it.
UPDATE webhooks SET enabled = 0 WHERE disabled_reason IS NOT NULL;
