"""The hub's OAuth 2.0 authorization server, built on authlib's framework-agnostic classes.

authlib ships no Starlette server integration, and its hooks are synchronous. Each request is
read in full on the event loop, then handed to authlib in a worker thread; the hooks reach the
database through a ``Portal`` that runs the hub's async queries back on the event loop, in the
request's one transaction. So the hub keeps one driver (asyncpg), one pool and one transaction
per OAuth request, and the event loop never waits on authlib or on argon2.
"""
