-- The dispatcher's claims must not walk a backlog: pings and tests have an index of their own
-- pending rows (events are found per webhook through webhook_deliveries_pending).
CREATE INDEX webhook_deliveries_manual ON webhook_deliveries (created_at, id)
    WHERE done_at IS NULL AND dead_at IS NULL AND kind <> 'event';
