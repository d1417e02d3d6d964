"""The IA catalog: each performance year's inventory and CMS suggested documentation."""

from evidence.catalog.model import (
    ActivityFacts,
    CatalogFile,
    DocumentationFacts,
    ItemFacts,
    YearFacts,
    load_catalog_file,
)

__all__ = [
    "ActivityFacts",
    "CatalogFile",
    "DocumentationFacts",
    "ItemFacts",
    "YearFacts",
    "load_catalog_file",
]
