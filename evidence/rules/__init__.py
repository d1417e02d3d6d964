"""CMS's IA rules by performance year, identifiers, special statuses, the score and its QPP export."""
