"""Builder services: form drafts, validation of definitions, publishing."""
