-- Single sign-on allow-list: who the provider accepts may still be refused by Wharf. Each list
-- holds one entry a line; an empty list allows everyone. A user needs one of the groups when
-- groups are listed, and an e-mail address in one of the domains when domains are listed.
ALTER TABLE sso_settings ADD COLUMN allowed_groups TEXT NOT NULL DEFAULT '';
ALTER TABLE sso_settings ADD COLUMN allowed_domains TEXT NOT NULL DEFAULT '';
