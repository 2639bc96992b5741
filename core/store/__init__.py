"""The project store: one folder, one SQLite database (see :mod:`core.store.project`)."""

from core.store.project import (  # noqa: F401
    DB_NAME,
    LABEL_SOURCES,
    LABEL_VALUES,
    RUN_STATUSES,
    SCHEMA_VERSION,
    SPLITS,
    Label,
    LabelEvent,
    Project,
    ProjectError,
    Run,
    Snapshot,
    Study,
    from_json,
    to_json,
)

__all__ = ['DB_NAME', 'SCHEMA_VERSION', 'Label', 'LabelEvent', 'Project', 'ProjectError', 'Run', 'Snapshot', 'Study']
