"""Evaluation: run language models over a release, grade their answers strictly, report accuracy and learning dynamics.

Thin, and apart from the compiler: it reads releases as records. Heavy libraries (torch, transformers, vLLM) are
imported only where a model is run, never by importing this package.
"""
