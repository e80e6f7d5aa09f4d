-- The research page lists the project names exports were made under; the audit log holds
-- every read too, so the exports get a partial index of their own.
CREATE INDEX audit_log_research_exports ON audit_log (at) WHERE action = 'research_export';
