-- Placeholder: version 8 is reserved for a migration of a parallel branch (migrations must be numbered
-- without gaps). Delete this file when that branch's 0008 migration is merged.
SELECT 1;
