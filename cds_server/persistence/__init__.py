"""The database edge: audit trail, decision records, feedback, retention, migrations.

SQLAlchemy lives here and nowhere else. The request path reaches it through
:class:`~cds_server.persistence.store.SqlDecisionStore` (the pipeline's ``DecisionStore``) and
:class:`~cds_server.persistence.feedback.FeedbackRecorder`; operators reach it through ``cds-server db``.
This module imports nothing so that ``cds-server --help`` stays fast.
"""
