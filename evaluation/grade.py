"""Grading: the answer a model's response gives, read strictly, and whether it is the gold answer.

The gold answer is read with the canonical answer model (`read_answer`: our texts and MathCAMPS
v1's), so one model parses stored answers, validates datasets and grades responses.

Where the answer is taken from, first that applies:

1. `marker`: the text after the last `### Answer:` (MathCAMPS' prompt asks for it; any number of
   `#` from two, the colon optional), up to its first blank line; a `\\boxed{}` in it is read
   instead of the rest.
2. `boxed`: the content of the last `\\boxed{...}` (or `\\fbox{...}`) of the response.
3. `fallback`: the last answer of the gold's kind anywhere in the response: the last number
   (in digits: number words are read only after a marker or in a box), the last comparison
   symbol or phrase, the last quotient with remainder, the last value given to each unknown, the
   pairs of the last line that has any.

Within a marker's or box's text a number answer is the number after the last `=` or `≈`
(`12 + 5 = 17 apples` says 17), or the number of the text when it has none. That text must say
one number, once: an answer is wrong (with its reason) when it
- hedges or negates: a word such as `or`, `maybe`, `perhaps`, `not` (`8 or 9`, `not 8`,
  `8 (or maybe 80)`);
- says several different numbers (`8 apples in 2 bags`; the same value twice, `0.5 (1/2)`, is one);
- is an expression rather than the number: an operator joins it to another operand (`8^2`,
  `2 × 4`, `10 - 2`), or it is in scientific notation (`8e5`);
- has a number of more than 1,000 digits.
In the fallback the last number is wrong in the same way when it is part of an expression or
comes right after a hedge or a negation (`... 8 or 9`).

How numbers are read and compared:
- Fractions (`3/4`, `\\frac{3}{4}`, `\\dfrac`, `-\\frac{3}{4}`, unreduced `6/8`), mixed numbers
  (`2 1/2`, `2\\frac{1}{2}`, `-1 1/2` is -3/2), `½`-style characters, integers with thousands
  separators (`1,234`, `1\\,234`), `$`, `\\$`, `\\text{}` and units around them, a sign kept
  (`-5`, `negative 5`; `10-3` is not -3), number words (`twelve`, `one hundred and five`).
- Any dash or minus sign before a number is a minus, with or without a space (`– 8`, `‐8`, `− 8`,
  `—8` are -8), unless it stands between two operands (`10 - 3`), where it subtracts.
- A percent is its value over 100 (`50%` is 1/2, so it is right for gold 1/2; `50%` is wrong for
  gold 50), with two more decimal places than it is written with.
- An exact reading (integer, fraction, mixed number) is right when it equals the gold.
- A decimal is right when it equals the gold exactly, or, for a gold whose decimals never end
  (1/3, or a float MathCAMPS v1 printed to 15 digits), when it has two places at least and
  equals the gold rounded half up to its own places: gold 1/3 accepts 0.33 and 0.333 but not
  0.3 or 0.34; gold 2/3 accepts 0.67, not 0.66. A gold that ends must be given in full: gold
  2.5 accepts 2.5 and 2.50 but not 2.4999, and gold 2.555 refuses 2.56.

Other kinds:
- comparison: `<`, `>`, `=` (also `\\lt`, `&gt;`, `==`) or `greater/larger/more than`,
  `less/smaller/fewer than`, `equal (to)`, `the same as`; the last one of the text counts. A
  negated phrase or `≤ ≥ ≠` is read and is wrong. Arrows (`=>`, `->`) are not comparisons.
- assignment (values of unknowns): `x = 3, y = 4` in any order, `(x, y) = (3, 4)`; each value
  by the number rules; after a marker or in a box, exactly the gold's unknowns (`x = 0, y = 0` is
  wrong for gold `x = 0`), while the fallback looks up only the gold's names. A bare pair `(3, 4)` is read only where it is unambiguous: the unknowns
  are x and y (the ordered pair's convention). One unknown also accepts a bare number.
- remainder: `7 R 3`, `7 r 3`, `7 remainder 3`, `7 with a remainder of 3`,
  `quotient 7 and remainder 3` (either order). A lone quotient is wrong.
- pairs (every factor pair): unordered pairs, each unordered: `{(2,3),(1,6)}`, `(3, 2), (6, 1)`
  and `1 × 6, 2 × 3` all say (1, 6), (2, 3); a repeated pair counts once; the answer is exactly
  that set of pairs (a missing or extra pair is wrong, and numbers that are not paired are not
  pairs).

Verdicts: `correct`; `wrong` when an answer was found and is not the gold one (this includes a
marker followed by something that does not read as the gold's kind, and the refusals above, whose
reason `Graded.reason` gives); `no-answer` when nothing was found (no marker or box, and no
answer of the gold's kind anywhere).

Every pattern here runs in time linear in the response (no two adjacent quantifiers that can
take the same characters), and the last answer is read from the end: a megabyte of prose grades
in milliseconds, and the worst runs of characters `benchmarks/grade.py` tries take a few tenths
of a second.

Unlike MathCAMPS' own grader, a minus sign is never dropped, a number is never matched by its
prefix (26.4 is not 26.3), and factor pairs are compared as pairs, not as a bag of numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Callable, Iterator

from mathcamps.answers import AnswerError, AnswerKind, Rounded, format_answer, parse_answer, read_answer
from mathcamps.evaluation.results import Verdict
from mathcamps.language import MAX_VALUE_DIGITS, decimal_places

MARKER = "marker"
BOXED = "boxed"
FALLBACK = "fallback"
# Words that make an answer a guess between several, or deny it: such an answer is never right.
HEDGES = frozenset("or nor maybe perhaps possibly probably either not unsure guess".split())


@dataclass(frozen=True)
class Graded:
    """What the grader read in a response and its verdict; `method` says where it was found
    (marker, boxed, fallback; None when nothing was), `reason` why an answer that was read cannot
    be right (a hedge, an expression, a number too long), when that is so."""

    verdict: Verdict
    extracted: str | None
    method: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Number:
    """A number read from a response: its value, and its decimal places when written as a decimal
    (None for an exact reading: an integer, a fraction, a mixed number); `problem` says why it
    cannot be an answer (part of an expression, too many digits; its value is then None if it
    could not be read), and `start` where it begins in the text read."""

    value: Fraction | None
    places: int | None
    text: str
    problem: str | None = None
    start: int = 0


@dataclass(frozen=True)
class Refused:
    """An answer that was given and cannot be right: what it says, and why."""

    text: str
    reason: str


# ---------------------------------------------------------------- normalizing a response's text

_MARKER = re.compile(r"(?<=#)#[ \t]*answer\b[ \t]*[:：]?", re.I)  # the last two of its #s, on: ##, ###, ...
_BOX = re.compile(r"\\(?:boxed|fbox)[ \t]{0,3}\{")  # no newline, nor four spaces, inside: see _last_match
_OUTSIDE_BOXES = re.compile(r"[^\\boxedf \t]|[ \t]{4}")  # a brace ends a match
_VULGAR = {"½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4", "⅕": "1/5", "⅖": "2/5",
           "⅗": "3/5", "⅘": "4/5", "⅙": "1/6", "⅚": "5/6", "⅛": "1/8", "⅜": "3/8", "⅝": "5/8", "⅞": "7/8"}
# (what any match contains, the pattern, its replacement): a pattern runs only where its text may be.
_LATEX_SYMBOLS = (
    (("\\le", "<=", "≦"), re.compile(r"\\(?:leq|le)\b|<=|≦"), " ≤ "),
    (("\\ge", ">=", "≧"), re.compile(r"\\(?:geq|ge)\b|>=|≧"), " ≥ "),
    (("\\ne", "!=", "=/="), re.compile(r"\\(?:neq|ne)\b|!=|=/="), " ≠ "),
    (("\\lt", "&lt;"), re.compile(r"\\lt\b|&lt;"), " < "),
    (("\\gt", "&gt;"), re.compile(r"\\gt\b|&gt;"), " > "),
    (("\\approx", "≃", "~="), re.compile(r"\\approx\b|≃|~="), " ≈ "),
    (("\\times", "\\cdot", "·"), re.compile(r"\\(?:times|cdot)\b|·"), " × "),
    (("==",), re.compile(r"==+"), " = "),
)
_ARROW_TEXTS = ("->", "=>", "<-", "→", "⇒", "⟹", "←", "⇔", "↔")
_DASHES = "‐‑‒–—―−﹣－⁻"  # every dash and minus sign is a minus; no-break and thin spaces are spaces
_SPACES = "\u00a0\u202f\u2009"
_ARROWS = re.compile(r"<-+>|(?<!=)=+>|(?<!-)-+>|<-+|[→⇒⟹←⇔↔]")
_LATEX_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname|mbox)\s*\{([^{}]*)\}")
_WRAPPER_NAMES = ("\\text", "\\math", "\\operatorname", "\\mbox")
_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*(?:(-)\s*)?(\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_FRAC_SHORT = re.compile(r"\\[dt]?frac\s*(\d)(\d)")  # \frac34, as TeX allows


def _closing_brace(text: str, start: int) -> int:
    """The index just past the brace that closes the one opened before `start` (len when none)."""
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _last_boxed(text: str) -> str | None:
    box = _last_match(_BOX, text, _OUTSIDE_BOXES, lambda window: "box" in window)
    if box is None:
        return None
    start = box.end()
    return text[start:_closing_brace(text, start)]


def _has(text: str, needles) -> bool:
    return any(needle in text for needle in needles)


def normalize(text: str) -> str:
    """The text with LaTeX, unicode and markdown spellings of numbers and symbols made plain.

    Each rewrite runs only where its text may be (a fast substring test first): a megabyte of prose
    is normalized in a few milliseconds."""
    for dash in _DASHES:
        if dash in text:
            text = text.replace(dash, "-")
    for space in _SPACES:
        if space in text:
            text = text.replace(space, " ")
    if _has(text, ("\\,", "\\!", "\\;", "\\:", "\\ ")):
        text = re.sub(r"(\d)\\[,!;: ]\s*(?=\d{3}\b)", r"\1,", text)  # 1\,234
    text = text.replace("\\$", " ").replace("\\%", "%").replace("$", " ").replace("**", " ")
    if "\\" in text:
        text = text.replace("\\left", "").replace("\\right", "").replace("\\{", "{").replace("\\}", "}")
        for _ in range(3 if _has(text, _WRAPPER_NAMES) else 0):  # nested wrappers: \text{\textbf{12}}
            text = _LATEX_WRAPPERS.sub(r" \1 ", text)
    if "frac" in text:
        text = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", text)
        text = re.sub(r"-\s*\\([dt]?frac)", r"\\\1{-}", text)  # -\frac{3}{4}: the sign moves inside
        text = re.sub(r"\\([dt]?frac)\{-\}\s*\{", r"\\\1{-", text)
        text = _FRAC.sub(lambda m: f" {m.group(1) or ''}{m.group(2)}/{m.group(3)}", text)
    if _has(text, _ARROW_TEXTS):
        text = _ARROWS.sub(" ", text)
    for needles, pattern, symbol in _LATEX_SYMBOLS:
        if _has(text, needles):
            text = pattern.sub(symbol, text)
    return text


# ---------------------------------------------------------------- numbers

_NUMBER = re.compile(
    r"""
    (?=[-\d.nNmMVULGAR])  # a quick first test: what a number may begin with
    (?<![\w.,/])
    (?P<sign>-[ \t]{0,3}|negative[ \t]{1,3}|minus[ \t]{1,3})?
    (?:
        (?:(?P<vwhole>\d+)[ \t]{0,3})?(?P<vulgar>[VULGAR])  # 3½, ½: a vulgar fraction always ends its number
      | (?P<whole>\d+)[ \t]{1,3}(?P<mnum>\d+)[ \t]{0,3}/[ \t]{0,3}(?P<mden>\d+)
      | (?P<num>\d+)[ \t]{0,3}/[ \t]{0,3}(?P<den>\d+)
      | (?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?
      | (?P<bare>\.\d+)
    )
    (?![\d/]|\.\d)
    (?(vulgar)|(?P<pct>[ \t]{0,3}%|[ \t]{1,3}percent\b)?)
    """.replace("VULGAR", "".join(_VULGAR)),
    re.X | re.I | re.ASCII,
)
_OPERATORS = "+-*/×÷^"
_SINGLE_LETTER = re.compile(r"(?:^|[^A-Za-z])[A-Za-z]$")
_AFTER_OPERATOR = re.compile(r"[ \t]*[-+*/×÷^][ \t]*(?:[\d(.]|[A-Za-z](?![A-Za-z]))")
_SCIENTIFIC = re.compile(r"[eE][-+]?\d|!")
_LAST_WORD = re.compile(r"([A-Za-z']+)[^A-Za-z\d\n]*$")
_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1000000}
_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
_NUMBER_WORDS = re.compile(
    rf"\b(?P<sign>negative[ \t]+|minus[ \t]+)?(?P<words>(?:{_WORD})(?:(?:[ \t-]+|[ \t]+and[ \t]+)(?:{_WORD}))*)\b",
    re.I,
)


def _word_value(words: str) -> int | None:
    total, current = 0, None
    for word in re.split(r"[\s-]+", words.lower()):
        if word == "and":
            continue
        if word in _SCALES:
            if current is None or (_SCALES[word] == 100 and current >= 100):
                return None
            if _SCALES[word] == 100:
                current *= 100
            else:
                total, current = total + current * _SCALES[word], None
            continue
        value = _UNITS[word] if word in _UNITS else _TENS[word]
        after_hundred = current is not None and current % 100 == 0 and current > 0
        after_tens = current is not None and current % 10 == 0 and current % 100 >= 20 and value < 10
        if current is not None and not (after_hundred or after_tens):
            return None  # "three four", "twelve five": not one number
        current = (current or 0) + value
    if current is None:
        return total or None
    return total + current


def _ends_operand(text: str) -> bool:
    """Whether `text` (spaces stripped) ends in something an operator can apply to: a number, a
    closing bracket, a percent, or a one-letter name (x, but not the word "is")."""
    if not text:
        return False
    last = text[-1]
    return last.isdigit() or last in ")]}%" or (last.isalpha() and bool(_SINGLE_LETTER.search(text)))


def _expression_around(text: str, start: int, end: int, signed: bool) -> bool:
    """Whether the number text[start:end] is an operand of an operation, not a number on its own:
    an operator between it and another operand on either side (10 - 3, 8^2, 2 × 4), or a
    scientific exponent (8e5). A dash before it (`signed`) is its minus unless an operand precedes."""
    before = text[max(0, start - 32):start].rstrip(" \t")
    if signed:
        if _ends_operand(before):
            return True
    elif before and before[-1] in _OPERATORS and (before[-1] not in "+-" or _ends_operand(before[:-1].rstrip(" \t"))):
        return True
    return bool(_AFTER_OPERATOR.match(text, end) or _SCIENTIFIC.match(text, end))


def _number_of(match: re.Match, text: str) -> Number | None:
    """The number a match of _NUMBER reads in `text` (None when it reads none: a zero denominator)."""
    sign = match.group("sign")
    digits = sum(len(match.group(part) or "") for part in ("vwhole", "whole", "mnum", "mden", "num", "den", "int", "frac", "bare"))
    if digits > MAX_VALUE_DIGITS:
        said = text[match.start():match.start() + 40]
        return Number(None, None, said + "...", f"a number of more than {MAX_VALUE_DIGITS:,} digits", match.start())
    digits_start = match.start("sign") + len(sign) if sign else match.start()
    expression = _expression_around(text, match.start(), match.end(), bool(sign and sign[0] == "-"))
    negative = bool(sign) and not (expression and sign[0] == "-")
    if match.group("vulgar") is not None:
        value = int(match.group("vwhole") or 0) + Fraction(_VULGAR[match.group("vulgar")])
        places = None
    elif match.group("whole") is not None:
        den = int(match.group("mden"))
        if den == 0:
            return None
        value = int(match.group("whole")) + Fraction(int(match.group("mnum")), den)
        places = None
    elif match.group("num") is not None:
        den = int(match.group("den"))
        if den == 0:
            return None
        value, places = Fraction(int(match.group("num")), den), None
    else:
        whole, frac = match.group("int"), match.group("frac") or match.group("bare")
        value = Fraction((whole or "0").replace(",", "") + (frac or ""))
        places = len(frac) - 1 if frac else None
    if match.group("pct"):
        value /= 100
        places = (places or 0) + 2
    body = text[digits_start:match.end()].strip()
    shown = re.sub(r"\s+", " ", body).replace(",", "") if match.group("int") else re.sub(r"\s+", " ", body)
    problem = "an expression, not a number on its own" if expression else None
    return Number(-value if negative else value, places, ("-" if negative else "") + shown, problem, match.start())


def _numbers(text: str) -> Iterator[Number]:
    """The numbers of a normalized text, in reading order, as they are read: in digits, or, when it
    has none, in words."""
    digits = False
    for match in _NUMBER.finditer(text):
        number = _number_of(match, text)
        if number is not None:
            digits = True
            yield number
    if digits:
        return
    for match in _NUMBER_WORDS.finditer(text):
        value = _word_value(match.group("words"))
        if value is not None:
            value = -value if match.group("sign") else value
            yield Number(Fraction(value), None, str(value), None, match.start())


def numbers_in(text: str) -> list[Number]:
    """Every number of a normalized text written in digits, in reading order."""
    return [n for n in (_number_of(m, text) for m in _NUMBER.finditer(text)) if n is not None]


def _round_half_up(value: Fraction, places: int) -> Fraction:
    scaled = abs(value) * 10**places
    rounded = Fraction(int(scaled + Fraction(1, 2)), 10**places)
    return -rounded if value < 0 else rounded


def number_agrees(gold: Fraction | Rounded, number: Number) -> bool:
    """Whether a number read from a response is the gold number (see the module's rules)."""
    if isinstance(gold, Rounded):
        if number.places is None:
            return gold.admits(number.value)
        stored = Decimal(gold.text)
        written = -stored.as_tuple().exponent
        if number.places >= written:
            return number.value == Fraction(stored)
        quantum = Decimal(1).scaleb(-number.places)
        return number.places >= 2 and number.value == Fraction(stored.quantize(quantum, rounding=ROUND_HALF_UP))
    if number.value == gold:
        return True
    if number.places is None or decimal_places(gold) is not None:
        return False
    return number.places >= 2 and number.value == _round_half_up(gold, number.places)


# ---------------------------------------------------------------- readers, one per kind of gold

_EQUALS = re.compile(r"=|≈")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


# Where no match of _NUMBER goes on: a character it never reads (a letter outside "negative",
# "minus" and "percent"), a percent sign or a vulgar fraction (each ends a match), four spaces (it
# allows three), a dash that no digit follows (its one dash comes before a number), a digit before
# a dash (the dash can only begin a match), a space between digits that no fraction bar follows (a
# space between digits is only ever the one of a mixed number: 2 1/2).
_OUTSIDE_NUMBERS = re.compile(
    r"[^\dacegimnprstuvACEGIMNPRSTUV \t,./-]|[ \t]{4}|-(?![ \t]{0,3}[\d.VULGAR])|\d(?=-)"
    r"|(?<=\d)[ \t](?=\d{1,40}(?!\d|[ \t]{0,3}/))".replace("VULGAR", "".join(_VULGAR))
)
_OUTSIDE_COMPARISONS = re.compile(r"[^A-Za-z' \t]|[ \t]{4}")  # a symbol is a whole match by itself
_OUTSIDE_REMAINDERS = re.compile(r"[^\dA-Za-z \t,.:]|[ \t]{4}")


def _holds_digit(text: str) -> bool:
    """Whether a text may hold a number: an ASCII digit (all _NUMBER reads) or a vulgar fraction."""
    return any(digit in text for digit in "0123456789") or any(char in text for char in _VULGAR)


def _may_compare(text: str) -> bool:
    """Whether a text may hold a comparison: a symbol, or a word every comparison phrase has."""
    if any(symbol in text for symbol in "<>=≤≥≠"):
        return True
    folded = text.lower()
    return "than" in folded or "equal" in folded or "same" in folded


_LOOKAHEAD = 64  # the farthest a pattern read from the end looks past its match


def _last_match(
    pattern: re.Pattern, text: str, outside: re.Pattern | None = None,
    may_hold: Callable[[str], bool] | None = None, size: int = 4096,
) -> re.Match | None:
    """The last match of `pattern` in `text`, the same as the last of pattern.finditer(text), read
    from the end: first the last few thousand characters, then growing stretches before them only
    while nothing is found, so a long response costs about one reading, a short tail far less. A
    stretch for which `may_hold` is false (a quick test of what every match holds) is skipped unread.

    A stretch begins right after a newline (no pattern read this way holds one) or a match of
    `outside`, whose last character no match can hold but as its own last (a character the pattern
    never reads, a symbol that is a whole match, the last of four spaces where it allows three). A
    scan from the beginning tries that same position (it cannot be inside a match), so from there
    both scans find the same matches."""
    stop = len(text)
    while stop > 0:
        origin = 0
        if stop > size:
            end = stop - size
            origin = text.rfind("\n", 0, end) + 1
            if outside is not None:
                near = None
                # Up to `end`, but seen with what follows it (the patterns look at most 64 characters ahead).
                for found in outside.finditer(text, max(origin, end - 256), min(len(text), end + _LOOKAHEAD)):
                    if found.end() > end:
                        break
                    near = found
                origin = near.end() if near is not None else origin
        if may_hold is None or may_hold(text[origin:stop]):
            last = None
            # The matches that begin before `stop`, seen with what follows them (a lookahead).
            for found in pattern.finditer(text, origin, min(len(text), stop + _LOOKAHEAD)):
                if found.start() >= stop:
                    break
                last = found
            if last is not None:
                return last
        stop, size = origin, size * 2
    return None


def _last_number(text: str) -> Number | None:
    """The last number of a normalized text, in digits (only that one is converted)."""
    last = _last_match(_NUMBER, text, _OUTSIDE_NUMBERS, _holds_digit)
    return _number_of(last, text) if last is not None else None


_HEDGE = re.compile(rf"(?<![A-Za-z'])(?:{'|'.join(sorted(HEDGES))})(?![A-Za-z'])", re.I)


def _hedge(text: str) -> str | None:
    """The first word of `text` that hedges or negates (or, maybe, not, ...), if any."""
    found = _HEDGE.search(text)
    return found.group(0) if found else None


def _read_number(span: str, whole_response: bool) -> Number | Refused | None:
    if whole_response:
        number = _last_number(span)
        if number is None or number.problem:
            return Refused(number.text, number.problem) if number is not None else None
        before = _LAST_WORD.search(span, max(0, number.start - 24), number.start)
        if before and before.group(1).lower() in HEDGES:
            return Refused(f"{before.group(1)} {number.text}", f"a hedged answer ({before.group(1)!r})")
        return number
    line = _first_line(span)
    equals = list(_EQUALS.finditer(line))
    after = line[equals[-1].end():] if equals else line
    clause = after if _NUMBER.search(after) or _NUMBER_WORDS.search(after) else line
    first = None
    for number in _numbers(clause):
        if number.problem:
            return Refused(number.text, number.problem)
        if first is None:
            first = number
        elif number.value != first.value:
            return Refused(f"{first.text}, {number.text}", "more than one number")
    return first


_COMPARISONS = re.compile(  # no newline, nor four spaces, inside: see _last_match
    r"""(?P<symbol>[<>=≤≥≠])
      | (?P<negated>\b(?:not|isn't|is[ \t]{1,3}not|aren't|are[ \t]{1,3}not)[ \t]{1,3})?
        (?:(?P<greater>\b(?:greater|larger|bigger|more)[ \t]{1,3}than\b)
         | (?P<less>\b(?:less|smaller|fewer|lower)[ \t]{1,3}than\b)
         | (?P<equal>\bequal(?:s|[ \t]{1,3}to)?\b|\bthe[ \t]{1,3}same[ \t]{1,3}as\b))""",
    re.X | re.I,
)


def _read_comparison(span: str, whole_response: bool) -> str | None:
    text = span if whole_response else _first_line(span)
    last = _last_match(_COMPARISONS, text, _OUTSIDE_COMPARISONS, _may_compare)
    if last is None:
        return None
    if last.group("symbol"):
        return last.group("symbol")
    symbol = ">" if last.group("greater") else "<" if last.group("less") else "="
    return f"not {symbol}" if last.group("negated") else symbol


_WHOLE = r"(\d{1,3}(?:,\d{3})+|\d{1,40})(?![\d,])"  # more digits than a literal may have: no school quotient
_WITH_REMAINDER = re.compile(  # no newline, nor four spaces, inside: see _last_match
    rf"(?<![\d.]){_WHOLE}(?:[ \t]{{0,3}}(?:R|rem\.?)|(?:[ \t]{{0,3}},)?[ \t]{{0,3}}(?:(?:and|with)[ \t]{{1,3}})?"
    rf"(?:(?:a|the)[ \t]{{1,3}})?remainders?(?:[ \t]{{1,3}}of|[ \t]{{1,3}}is|[ \t]{{0,3}}:)?)[ \t]{{0,3}}{_WHOLE}\b",
    re.I,
)
_NAMED = {word: re.compile(rf"{word}\D{{0,24}}?{_WHOLE}", re.I) for word in ("quotient", "remainder")}
_NAMED_GAP = 60  # "quotient 7 ... remainder 3": at most this many characters between the two


def _named_pairs(text: str, first: str, second: str) -> list[tuple[int, int, int]]:
    """(position, first's number, second's number) wherever `first N` has `second M` soon after it."""
    seconds = [(m.start(), m.group(1)) for m in _NAMED[second].finditer(text)]
    found, k = [], 0
    for match in _NAMED[first].finditer(text):
        while k < len(seconds) and seconds[k][0] < match.end():
            k += 1
        if k < len(seconds) and seconds[k][0] - match.end() <= _NAMED_GAP:
            found.append((match.start(), _whole_number(match.group(1)), _whole_number(seconds[k][1])))
    return found


def _whole_number(text: str) -> int:
    return int(text.replace(",", ""))


def _read_remainder(span: str, whole_response: bool) -> tuple[int, int] | Number | Refused | None:
    text = span if whole_response else _first_line(span)
    found = []
    last = _last_match(_WITH_REMAINDER, text, _OUTSIDE_REMAINDERS,
                       lambda window: ("r" in window or "R" in window) and _holds_digit(window))
    if last is not None:
        found.append((last.start(), _whole_number(last.group(1)), _whole_number(last.group(2))))
    if "quotient" in text.lower():
        found += _named_pairs(text, "quotient", "remainder")
        found += [(at, quotient, remainder) for at, remainder, quotient in _named_pairs(text, "remainder", "quotient")]
    if found:
        _, quotient, remainder = max(found)
        return quotient, remainder
    return _read_number(span, whole_response)  # an answer, but not a quotient with its remainder


# A name given a value that may be a number (what follows could begin one).
_NAME_VALUE = re.compile(r"(?<![\w.])([A-Za-z_]\w*)[ \t]*(?:=|≈)[ \t]*(?=[\d.-]|negative|minus)", re.I)
_NAMED_TUPLE = re.compile(r"\(([^()]*)\)[ \t]*=[ \t]*\(([^()]*)\)")
_PAIR_OF_NUMBERS = re.compile(r"[\(\[]([^()\[\],;]*)[,;]([^()\[\],;]*)[\)\]]")


def _single_number(text: str) -> Number | None:
    text = text.strip()
    match = _NUMBER.fullmatch(text)
    return _number_of(match, text) if match else None


def _read_assignment(span: str, names: list[str] | None, whole_response: bool) -> dict[str, Number] | Number | Refused | None:
    """Values per unknown (the last one given to each name); `names` None takes every name given a
    value. A bare number for one unknown, a bare pair for x and y, only when no name is given one."""
    values: dict[str, tuple[int, Number]] = {}
    named = "=" in span or "≈" in span  # a quick test: a name given a value has one of them
    for match in _NAMED_TUPLE.finditer(span) if named else ():
        keys = [k.strip() for k in match.group(1).split(",")]
        numbers = [_single_number(v) for v in match.group(2).split(",")]
        if len(keys) == len(numbers) and all(numbers) and all(re.fullmatch(r"[A-Za-z_]\w*", k) for k in keys):
            for key, number in zip(keys, numbers):
                values[key] = (match.start(), number)
    # Where each name is given a value, in order; only the last that says a number is read (a
    # response may name x a million times).
    given: dict[str, list[re.Match]] = {}
    for match in _NAME_VALUE.finditer(span) if named else ():
        given.setdefault(match.group(1), []).append(match)
    for name, matches in given.items():
        for match in reversed(matches):
            if match.start() < values.get(name, (-1, None))[0]:
                break
            found = numbers_in(span[match.end():match.end() + 40].rstrip())
            if found and found[0].start == 0:
                values[name] = (match.start(), found[0])
                break
    refused = next((number for _, number in values.values() if number.problem), None)
    if refused is not None:
        return Refused(refused.text, refused.problem)
    if names is not None and all(name in values for name in names):
        # In the answer's own text every name given counts (an extra unknown is a wrong answer); in the
        # fallback over the whole response, other names are the working's.
        wanted = names if whole_response else sorted(values, key=lambda name: values[name][0])
        return {name: values[name][1] for name in wanted}
    if values:  # names given values, but not each unknown: an answer, and not the right one
        return {name: number for name, (_, number) in values.items()}
    if names is not None and len(names) == 1:
        return _read_number(span, whole_response)
    if names is not None and sorted(names) == ["x", "y"]:
        pairs = _PAIR_OF_NUMBERS.finditer(span) if "," in span or ";" in span else ()
        for match in reversed(list(pairs)):  # the last pair of two numbers
            x, y = _single_number(match.group(1)), _single_number(match.group(2))
            if x and y:
                return {"x": x, "y": y}
    return None


_FACTOR_PAIR = re.compile(r"[\(\[\{][ \t]{0,3}(\d{1,40})[ \t]{0,3},[ \t]{0,3}(\d{1,40})[ \t]{0,3}[\)\]\}]")
_PRODUCT = re.compile(r"(?<![\d.])(\d{1,40})[ \t]{0,3}(?:×|x|\*|times)[ \t]{0,3}(\d{1,40})(?![\d.])")
_ANY_PAIR = re.compile(f"{_FACTOR_PAIR.pattern}|{_PRODUCT.pattern}")  # no newline inside: see _last_match
_OUTSIDE_PAIRS = re.compile(r"[^\d \t,()\[\]{}×x*times.]|[ \t]{4}")


def _pairs_in(text: str) -> frozenset[tuple[int, int]] | None:
    pairs = [(int(a), int(b)) for a, b in _FACTOR_PAIR.findall(text)] if "," in text else []
    if not pairs:
        pairs = [(int(a), int(b)) for a, b in _PRODUCT.findall(text)]
    return frozenset((min(p), max(p)) for p in pairs) if pairs else None


def _read_pairs(span: str, whole_response: bool) -> frozenset[tuple[int, int]] | None:
    if not whole_response:
        return _pairs_in(span.split("\n\n")[0])
    # The pairs of the last line that has any: the line of the last pair or product.
    last = _last_match(_ANY_PAIR, span, _OUTSIDE_PAIRS, _holds_digit)
    if last is None:
        return None
    start, end = span.rfind("\n", 0, last.start()) + 1, span.find("\n", last.end())
    return _pairs_in(span[start:end if end >= 0 else len(span)])


# ---------------------------------------------------------------- gold answers

def read_gold(gold: str, answer_kind: str | None = None):
    """The gold answer's value (as `read_answer` gives it); AnswerError if it is none."""
    try:
        return read_answer(gold)
    except AnswerError:
        if answer_kind in AnswerKind.__members__:
            return parse_answer(AnswerKind(answer_kind), gold)
        raise


def _kind_of(value) -> str:
    if isinstance(value, str):
        return "comparison"
    if isinstance(value, dict):
        return "assignment"
    if isinstance(value, tuple):
        return "pairs" if value and isinstance(value[0], tuple) else "remainder"
    return "number"


# ---------------------------------------------------------------- the public API

def _span(response: str) -> tuple[str, str] | None:
    marker = _last_match(_MARKER, response, None, lambda window: "answer" in window.lower())
    if marker is not None:
        rest = response[marker.end():].lstrip()
        paragraph = rest.split("\n\n")[0] if rest else ""
        boxed = _last_boxed(paragraph)
        return (boxed if boxed is not None else paragraph), MARKER
    boxed = _last_boxed(response)
    if boxed is not None:
        return boxed, BOXED
    return None


def _shown(raw: str) -> str:
    text = " ".join(raw.split())
    return text if len(text) <= 200 else text[:197] + "..."


def _describe(reading) -> str:
    if isinstance(reading, (Number, Refused)):
        return reading.text
    if isinstance(reading, dict):
        return ", ".join(f"{name} = {number.text}" for name, number in reading.items())
    if isinstance(reading, frozenset):
        return format_answer(AnswerKind.pairs, tuple(sorted(reading)))
    if isinstance(reading, tuple):
        return f"{reading[0]} R {reading[1]}"
    return str(reading)


def _reader(kind: str, names: list[str] | None = None) -> Callable[[str, bool], object]:
    if kind == "comparison":
        return _read_comparison
    if kind == "assignment":
        return lambda span, whole: _read_assignment(span, names, whole)
    if kind == "remainder":
        return _read_remainder
    if kind == "pairs":
        return _read_pairs
    return _read_number


def _agrees(gold, reading) -> bool:
    kind = _kind_of(gold)
    if kind == "comparison":
        return reading == gold
    if kind == "assignment":
        if isinstance(reading, Number):
            return len(gold) == 1 and number_agrees(next(iter(gold.values())), reading)
        return isinstance(reading, dict) and set(reading) == set(gold) and all(
            number_agrees(gold[name], reading[name]) for name in gold
        )
    if kind == "remainder":
        return isinstance(reading, tuple) and (Fraction(reading[0]), Fraction(reading[1])) == tuple(gold)
    if kind == "pairs":
        return isinstance(reading, frozenset) and reading == frozenset((min(p), max(p)) for p in gold)
    return isinstance(reading, Number) and number_agrees(gold, reading)


def _extract(response: str, reader: Callable[[str, bool], object], kind: str) -> tuple[object, str | None, str | None]:
    """The reading (None when none; Refused when it cannot be right), the text shown for it, and
    where it was found."""
    span = _span(response)
    if span is not None:
        text, method = span
        if not text.strip():
            return None, None, None
        plain = normalize(text)
        # The answer's own text (the pairs' paragraph, else its first line) must not hedge.
        answer = plain.split("\n\n")[0] if kind == "pairs" else _first_line(plain)
        hedge = _hedge(answer)
        if hedge is not None:
            reading = Refused(_shown(answer), f"a hedged answer ({hedge!r})")
        else:
            reading = reader(plain, False)
        return reading, (_describe(reading) if reading is not None else _shown(text)), method
    reading = reader(normalize(response), True)
    return reading, (_describe(reading) if reading is not None else None), (FALLBACK if reading is not None else None)


def extract_answer(response: str, answer_kind: str | None = None) -> str | None:
    """The answer text a response gives (after its last `### Answer:`, else in its last
    `\\boxed{}`, else its last number), or None when it gives none.

    `answer_kind` (an AnswerKind's value) reads the fallback and the answer's text as that kind;
    without it a marker's or box's text is read as a number where it has one."""
    kind = answer_kind if answer_kind in ("comparison", "assignment", "remainder", "pairs") else "number"
    _, extracted, _ = _extract(response, _reader(kind), kind)
    return extracted


def grade(response: str | None, gold: str, answer_kind: str | None = None) -> Graded:
    """The verdict on a response given the gold answer (our canonical text or MathCAMPS v1's),
    and the answer read from it. AnswerError if the gold answer cannot be read."""
    value = read_gold(gold, answer_kind)
    if response is None:
        return Graded(Verdict.no_answer, None, None)
    kind = _kind_of(value)
    reader = _reader(kind, list(value) if kind == "assignment" else None)
    reading, extracted, method = _extract(response, reader, kind)
    if extracted is None:
        return Graded(Verdict.no_answer, None, None)
    if isinstance(reading, Refused):
        return Graded(Verdict.wrong, extracted, method, reading.reason)
    if reading is None:
        return Graded(Verdict.wrong, extracted, method, f"no answer of the gold's kind ({kind}) in the answer's text")
    verdict = Verdict.correct if _agrees(value, reading) else Verdict.wrong
    return Graded(verdict, extracted, method)
