"""Services: the operations pages, the JSON API, the CLI and the Python API
share (sessions, accounts, rate limits). No Flask request access: callers pass
the :class:`~flask_sessionauth.core.records.Client` they serve."""
