"""EHR client authentication: who may call, and how a call's JWT is checked.

Pure verification in :mod:`~cds_server.auth.verify` (keys and clock are inputs); the I/O edges are
named: :mod:`~cds_server.auth.jwks` (fetching registered JWKS URLs), :mod:`~cds_server.auth.replay`
(the shared ``jti`` store), :mod:`~cds_server.auth.client_store` (the ``trusted_client`` table) and
:mod:`~cds_server.auth.events` (security events). :mod:`~cds_server.auth.factory` builds them from
the settings; :mod:`cds_server.api.auth` wires them in front of the routes. See docs/security.md.
"""
