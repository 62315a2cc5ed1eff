"""The layer under everything: thread counts and backends(), host / device array detection
and the API-boundary validation.  Imports nothing else of segscore's layers."""
