"""The search: decisions -> objectives (the fitness harness over a space and a quantizer), the
ask/tell optimizer contract and driver, Pareto fronts and metrics."""
