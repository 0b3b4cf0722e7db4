"""The plain-text layout of a dialogue, shared by what trains models (the train stream of a release)
and what evaluates them (the completion prompt): one `|role| content` block per message, each ended
by a line `@@@` (MathCAMPS' completion layout), and an answer given on a line `### Answer: ...`."""

from __future__ import annotations

DELIMITER = "@@@"  # ends a message: a model that writes it has ended its turn
ANSWER_MARKER = "### Answer:"


def block(role: str, content: str) -> str:
    """One message of the completion layout."""
    return f"|{role}| {content}\n{DELIMITER}\n"


def answer_line(answer: str) -> str:
    """The last line of a response: the answer in the form the grader reads first."""
    return f"{ANSWER_MARKER} {answer}"
