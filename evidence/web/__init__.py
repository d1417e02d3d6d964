"""The web app (issue #15): server-rendered pages and a read-only REST API over the same library as the CLI.

It holds no rule and no SQL: every request goes through evidence.access.guarded.
"""
