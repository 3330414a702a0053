"""The registration sheet: what an EHR's analysts type in to register each service (Epic and Oracle
Health register by form, not by reading discovery). Built from the loaded service declarations,
their mappings' prefetch templates and the server's authentication settings, so it cannot drift from
what the server does: :mod:`.sheet` (the data), :mod:`.markdown`, :mod:`.cli`; served at
``/docs/registration``.

Nothing is imported here: ``cds-server --help`` imports :mod:`.cli`, and must not load onnxruntime
(which, imported into gunicorn's master before the fork, makes every worker abort at exit).
"""
