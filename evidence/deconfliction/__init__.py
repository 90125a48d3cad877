"""Deconfliction: the online identities a tasking targets or meets, matched against other schemes'
taskings and the police register of live interest without any party reading another's plaintext.

- identifiers.py: each kind of identifier reduced to one canonical form (the rules, one per kind).
- blind.py: the keyed blind index (HMAC-SHA-256 under the platform's deconfliction key) matching runs on.
"""
