"""mathcamps: a grammar-and-solver compiler for verified, curriculum-grounded math word problems."""

__version__ = "0.1.0"
