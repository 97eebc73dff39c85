"""Numbers: numerical differentiation, gradient checks, experiments."""
