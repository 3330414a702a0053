"""Demo data: bundled Synthea patients, shifted in time so their charts look current.

Used by the demo chart page (the embedded "local FHIR data source") and by ``cds-server demo load``,
which puts the same patients, ids kept, into a FHIR server such as the HAPI FHIR of docker-compose.
"""
