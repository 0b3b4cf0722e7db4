"""The one base class of the user's mistakes: the CLI prints these as one paragraph, no traceback."""


class MathcampsError(Exception):
    """A mistake in the user's input (a file, an option, a definition), with a message that names it."""
