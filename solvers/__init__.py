"""Solvers: sympy computes each answer exactly, z3 proves it from its own translation."""
