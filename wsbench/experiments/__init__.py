"""Experiments: trials (one pipeline for ``wsbench run`` and ``wsbench compress``), their typed
records, the results store, indicators and statistics."""
