"""Importers: one class per kind of source, all writing through the same checks."""
