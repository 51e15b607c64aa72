"""Flask glue: per-app and per-request state, the request hook, the proxies and
decorators, cookies and error responses. Thin: every decision is delegated to
the services and the core rules."""
