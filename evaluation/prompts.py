"""Prompts: how a problem (and a follow-up, in its dialogue) is put to a model, and where its answer ends.

The format is MathCAMPS' one-shot evaluation prompt: a system instruction to end with a line
`### Answer: ...`, one worked example as a user turn and an assistant turn, then the problem. A
follow-up is asked in the dialogue of its original: the original's statement, the model's own
response to it, then the follow-up's statement (MathCAMPS asks each follow-up so, after a correct
original only). The wording of the instruction and the example is ours; `OneShot.from_file` takes
any other prefix of messages (for instance MathCAMPS' own prompt file) for exact comparisons.

A model with a chat template gets the messages through its template; any other model gets the
plain completion text below, one `|role| content` block per message, blocks separated by a line
`@@@` (MathCAMPS' completion layout), ending with `|assistant|` for the model to continue.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from mathcamps.dialogue import DELIMITER, block
from mathcamps.errors import MathcampsError

SYSTEM = (
    "You are a mathematics teacher who solves every problem correctly and explains the reasoning step by "
    "step. Write the final answer on the last line of your response, always in this form: "
    '"### Answer: <your final answer>".'
)
EXAMPLE_PROBLEM = (
    "A baker made 36 muffins in the morning and 3 times as many in the afternoon. "
    "How many muffins did the baker make in all?"
)
EXAMPLE_SOLUTION = (
    "Reasoning: In the afternoon the baker made 3 × 36 = 108 muffins.\n"
    "In all the baker made 36 + 108 = 144 muffins.\n"
    "### Answer: 144"
)

# The end of an answer line: the marker, something after it, then a newline.
_ANSWER_LINE = re.compile(r"###\s*Answer\s*:[ \t]*\S[^\n]*\n")
# Bumped whenever the stopping or trimming rule changes: it is part of a run's settings hash.
STOP_RULE = "answer-line-or-delimiter/1"

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


class PromptError(MathcampsError):
    """A prompt file that is not a list of role/content messages."""


@dataclass(frozen=True)
class OneShot:
    """The messages put before every problem: an instruction and one worked example."""

    prefix: tuple[tuple[str, str], ...] = (
        ("system", SYSTEM),
        ("user", EXAMPLE_PROBLEM),
        ("assistant", EXAMPLE_SOLUTION),
    )

    @classmethod
    def from_file(cls, path: Path) -> "OneShot":
        """The prefix read from a JSON list of {"role", "content"} messages."""
        try:
            messages = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise PromptError(f"cannot read the prompt file {path}: {error}") from None
        roles = {"system", "user", "assistant"}
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) and m.get("role") in roles and isinstance(m.get("content"), str) for m in messages
        ):
            raise PromptError(
                f"{path} is not a prompt: it must be a JSON list of messages such as "
                '[{"role": "system", "content": "..."}, {"role": "user", "content": "..."}], '
                "each role one of system, user, assistant."
            )
        return cls(tuple((m["role"], m["content"]) for m in messages))

    def messages(self) -> list[Message]:
        """The prefix as chat messages."""
        return [{"role": role, "content": content} for role, content in self.prefix]

    def dialogue(self, statement: str, history: tuple[tuple[str, str], ...] = ()) -> list[Message]:
        """The messages that ask `statement`, after earlier (statement, model response) turns of its dialogue."""
        messages = self.messages()
        for asked, answered in history:
            messages += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
        messages.append({"role": "user", "content": statement})
        return messages


def without_system(messages: list[Message]) -> list[Message]:
    """The messages with a system message folded into the first user turn (for templates that refuse a system role)."""
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest:
        rest[0]["content"] = "\n\n".join(system) + "\n\n" + rest[0]["content"]
    return rest


def completion_text(messages: list[Message]) -> str:
    """The plain-text prompt of a dialogue for a model without a chat template."""
    return "".join(block(m["role"], m["content"]) for m in messages) + "|assistant|"


def response_ended(text: str) -> bool:
    """Whether a response so far has finished: its answer line is complete, or it ended its turn."""
    return DELIMITER in text or _ANSWER_LINE.search(text) is not None


def trim_response(text: str) -> str:
    """The response up to the end of its turn: cut at the message delimiter and after the first answer line."""
    text = text.split(DELIMITER, 1)[0]
    answer = _ANSWER_LINE.search(text)
    if answer is not None:
        text = text[: answer.end()]
    return text.strip()
