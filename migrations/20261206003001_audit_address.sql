-- Refused tokens and failed sign-ins are capped per client address and hour: counting an
-- address's rows of the hour reads this index.
CREATE INDEX audit_log_address ON audit_log (address, at);
