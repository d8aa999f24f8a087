"""Programs the grader runs inside its containers (mounted read-only at /grader; standard library only).

- ``relay.py`` (a client role's sandbox): per connection, start the client with its stdio on it;
- ``connect.py`` (the checker's ``--cmd`` for a client role): be the client's stdio through the relay;
- ``driver.py`` (the checker container): run every role's check at once, each result to a file.
"""
