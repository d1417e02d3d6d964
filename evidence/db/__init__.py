"""Database layer: typed models, the engine factory and schema migrations."""
