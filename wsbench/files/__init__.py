"""Writing and reading files safely: atomic writes, content keys, locks, bounded reads."""
