"""Numbers: the finite-difference engine (differences), numerical differentiation, gradient checks, experiments."""
