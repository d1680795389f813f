"""Performance benchmarks of wsbench, run by ``wsbench bench``.

Installed as the package ``wsbench_perf`` (``[tool.setuptools.package-dir]`` maps it to
``benchmarks/perf``), so ``wsbench bench`` works from any installed copy. Every section returns
measured figures and the goals they decide; :mod:`wsbench_perf.run` prints them as a table.
Speed is measured here and only here: the unit tests never time anything.
"""
