-- Set while a template-format delivery is being rendered, cleared when the render ends. A
-- delivery claimed again with it still set took down the process that rendered it: it is set
-- aside instead of being rendered again (a crash loop across restarts otherwise).
ALTER TABLE webhook_deliveries ADD COLUMN render_started_at BIGINT;
