from __future__ import annotations

from alembic import context

from vigil.core.schema import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # run from the alembic CLI
    from vigil.core.config import load_settings
    from vigil.core.db import make_engine

    engine = make_engine(load_settings().db_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
