"""Who may do what: users, API tokens, roles and practice grants (issue #15).

`policy` is the one table of permissions per role and the checks every front end calls;
`users` and `tokens` manage and authenticate them; `passwords` holds the Argon2 hashing.
"""
