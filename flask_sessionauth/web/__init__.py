"""Web: the account pages, the JSON API, the CLI (and the Flask-Login bridge
at ``flask_sessionauth.flask_login``). Each only translates between its
medium and :mod:`flask_sessionauth.glue.actions`."""
