"""The compiler: sampling, instantiation, rendering and the pipeline that makes verified problems."""
