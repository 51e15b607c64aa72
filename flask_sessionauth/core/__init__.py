"""Pure core: errors, settings, tokens, records and the session rules.

Nothing here imports Flask, SQLAlchemy or any other layer of the package, so
every rule can be read and tested as a plain function of its inputs.
"""
