//! Persistence: schema, migrations, repositories and the in-memory gallery index.
