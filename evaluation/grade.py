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

Within a marker's or box's text a number answer is the first number after the last `=` or `≈`
(`12 + 5 = 17 apples` says 17), or the first number of the text when it has none.

How numbers are read and compared:
- Fractions (`3/4`, `\\frac{3}{4}`, `\\dfrac`, `-\\frac{3}{4}`, unreduced `6/8`), mixed numbers
  (`2 1/2`, `2\\frac{1}{2}`, `-1 1/2` is -3/2), `½`-style characters, integers with thousands
  separators (`1,234`, `1\\,234`), `$`, `\\$`, `\\text{}` and units around them, a sign kept
  (`-5`, `−5`, `negative 5`; `10-3` is not -3), number words (`twelve`, `one hundred and five`).
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
marker followed by something that does not read as the gold's kind); `no-answer` when nothing
was found (no marker or box, and no answer of the gold's kind anywhere).

Unlike MathCAMPS' own grader, a minus sign is never dropped, a number is never matched by its
prefix (26.4 is not 26.3), and factor pairs are compared as pairs, not as a bag of numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Callable

from mathcamps.answers import AnswerError, AnswerKind, Rounded, format_answer, parse_answer, read_answer
from mathcamps.evaluation.results import Verdict
from mathcamps.language import decimal_places

MARKER = "marker"
BOXED = "boxed"
FALLBACK = "fallback"


@dataclass(frozen=True)
class Graded:
    """What the grader read in a response and its verdict; `method` says where it was found
    (marker, boxed, fallback; None when nothing was)."""

    verdict: Verdict
    extracted: str | None
    method: str | None = None


@dataclass(frozen=True)
class Number:
    """A number read from a response: its value, and its decimal places when written as a decimal
    (None for an exact reading: an integer, a fraction, a mixed number)."""

    value: Fraction
    places: int | None
    text: str


# ---------------------------------------------------------------- normalizing a response's text

_MARKER = re.compile(r"#{2,}[ \t]*answer\b[ \t]*[:：]?", re.I)
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_VULGAR = {"½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4", "⅕": "1/5", "⅖": "2/5",
           "⅗": "3/5", "⅘": "4/5", "⅙": "1/6", "⅚": "5/6", "⅛": "1/8", "⅜": "3/8", "⅝": "5/8", "⅞": "7/8"}
_LATEX_SYMBOLS = (
    (re.compile(r"\\(?:leq|le)\b|<=|≦"), " ≤ "),
    (re.compile(r"\\(?:geq|ge)\b|>=|≧"), " ≥ "),
    (re.compile(r"\\(?:neq|ne)\b|!=|=/="), " ≠ "),
    (re.compile(r"\\lt\b|&lt;"), " < "),
    (re.compile(r"\\gt\b|&gt;"), " > "),
    (re.compile(r"\\approx\b|≃|~="), " ≈ "),
    (re.compile(r"\\(?:times|cdot)\b|·"), " × "),
    (re.compile(r"==+"), " = "),
)
_ARROWS = re.compile(r"<-+>|=+>|-+>|<-+|[→⇒⟹←⇔↔]")
_LATEX_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|operatorname|mbox)\s*\{([^{}]*)\}")
_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*(-?)\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}")
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
    boxes = list(_BOX.finditer(text))
    if not boxes:
        return None
    start = boxes[-1].end()
    return text[start:_closing_brace(text, start)]


def normalize(text: str) -> str:
    """The text with LaTeX, unicode and markdown spellings of numbers and symbols made plain."""
    text = text.replace("−", "-").replace("\u00a0", " ").replace("\u202f", " ")
    for char, fraction in _VULGAR.items():
        if char in text:
            text = re.sub(rf"(\d)\s*{char}", rf"\1 {fraction}", text).replace(char, f" {fraction}")
    text = re.sub(r"(\d)\\[,!;: ]\s*(?=\d{3}\b)", r"\1,", text)  # 1\,234
    text = text.replace("\\$", " ").replace("\\%", "%").replace("$", " ").replace("**", " ")
    text = text.replace("\\left", "").replace("\\right", "").replace("\\{", "{").replace("\\}", "}")
    for _ in range(3):  # nested wrappers: \text{\textbf{12}}
        text = _LATEX_WRAPPERS.sub(r" \1 ", text)
    text = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", text)
    text = re.sub(r"-\s*\\([dt]?frac)", r"\\\1{-}", text)  # -\frac{3}{4}: the sign moves inside
    text = re.sub(r"\\([dt]?frac)\{-\}\s*\{", r"\\\1{-", text)
    text = _FRAC.sub(lambda m: f" {m.group(1)}{m.group(2)}/{m.group(3)}", text)
    text = _ARROWS.sub(" ", text)
    for pattern, symbol in _LATEX_SYMBOLS:
        text = pattern.sub(symbol, text)
    return text


# ---------------------------------------------------------------- numbers

_NUMBER = re.compile(
    r"""
    (?<![\w.,/-])
    (?P<sign>-|negative\s+|minus\s+)?
    (?:
        (?P<whole>\d+)[ \t]+(?P<mnum>\d+)[ \t]*/[ \t]*(?P<mden>\d+)
      | (?P<num>\d+)[ \t]*/[ \t]*(?P<den>\d+)
      | (?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?P<frac>\.\d+)?
    )
    (?![\d/]|\.\d)
    (?P<pct>\s*%|\s+percent\b)?
    """,
    re.X | re.I,
)
_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1000000}
_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
_NUMBER_WORDS = re.compile(
    rf"\b(?P<sign>negative\s+|minus\s+)?(?P<words>(?:{_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_WORD}))*)\b", re.I
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


def _number_of(match: re.Match) -> Number | None:
    sign = -1 if match.group("sign") else 1
    if match.group("whole") is not None:
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
        whole, frac = match.group("int"), match.group("frac")
        if whole is None and frac is None:
            return None
        value = Fraction((whole or "0").replace(",", "") + (frac or ""))
        places = len(frac) - 1 if frac else None
    if match.group("pct"):
        value /= 100
        places = (places or 0) + 2
    text = re.sub(r"\s+", " ", match.group(0).strip()).replace(",", "") if match.group("int") else match.group(0)
    text = re.sub(r"^(?:negative|minus)\s+", "-", text.strip(), flags=re.I)
    return Number(sign * value, places, text)


def numbers_in(text: str, words: bool = False) -> list[tuple[int, Number]]:
    """Every number of a normalized text with its position, in reading order; number words only
    when `words` and the text has no number in digits."""
    found = []
    for match in _NUMBER.finditer(text):
        if match.group(0).strip():
            number = _number_of(match)
            if number is not None:
                found.append((match.start(), number))
    if found or not words:
        return found
    for match in _NUMBER_WORDS.finditer(text):
        value = _word_value(match.group("words"))
        if value is not None:
            value = -value if match.group("sign") else value
            found.append((match.start(), Number(Fraction(value), None, str(value))))
    return found


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


def _last_number(text: str) -> Number | None:
    """The last number of a normalized text, in digits (only that one is converted)."""
    for match in reversed(list(_NUMBER.finditer(text))):
        if match.group(0).strip():
            number = _number_of(match)
            if number is not None:
                return number
    return None


def _read_number(span: str, whole_response: bool) -> Number | None:
    if whole_response:
        return _last_number(span)
    line = _first_line(span)
    equals = list(_EQUALS.finditer(line))
    after = line[equals[-1].end():] if equals else line
    found = numbers_in(after, words=True) or numbers_in(line, words=True)
    return found[0][1] if found else None


_COMPARISONS = re.compile(
    r"""(?P<symbol>[<>=≤≥≠])
      | (?P<negated>\b(?:not|isn't|is\s+not|aren't|are\s+not)\s+)?
        (?:(?P<greater>\b(?:greater|larger|bigger|more)\s+than\b)
         | (?P<less>\b(?:less|smaller|fewer|lower)\s+than\b)
         | (?P<equal>\bequal(?:s|\s+to)?\b|\bthe\s+same\s+as\b))""",
    re.X | re.I,
)


def _read_comparison(span: str, whole_response: bool) -> str | None:
    text = span if whole_response else _first_line(span)
    found = list(_COMPARISONS.finditer(text))
    if not found:
        return None
    last = found[-1]
    if last.group("symbol"):
        return last.group("symbol")
    symbol = ">" if last.group("greater") else "<" if last.group("less") else "="
    return f"not {symbol}" if last.group("negated") else symbol


_WHOLE = r"(\d{1,3}(?:,\d{3})+|\d+)"
_REMAINDERS = (
    re.compile(rf"quotient\D{{0,24}}?{_WHOLE}\b.{{0,60}}?remainder\D{{0,24}}?{_WHOLE}\b", re.I | re.S),
    re.compile(rf"(?<![\d.]){_WHOLE}\s*(?:R|rem\.?|,?\s*(?:and\s+|with\s+)?(?:a\s+|the\s+)?remainders?(?:\s+of|\s+is|:)?)\s*{_WHOLE}\b", re.I),
)
_REMAINDER_FIRST = re.compile(rf"remainder\D{{0,24}}?{_WHOLE}\b.{{0,60}}?quotient\D{{0,24}}?{_WHOLE}\b", re.I | re.S)


def _read_remainder(span: str, whole_response: bool) -> tuple[int, int] | Number | None:
    text = span if whole_response else _first_line(span)
    found = []
    for pattern in _REMAINDERS:
        found += [(m.start(), int(m.group(1).replace(",", "")), int(m.group(2).replace(",", "")))
                  for m in pattern.finditer(text)]
    found += [(m.start(), int(m.group(2).replace(",", "")), int(m.group(1).replace(",", "")))
              for m in _REMAINDER_FIRST.finditer(text)]
    if found:
        _, quotient, remainder = max(found)
        return quotient, remainder
    return _read_number(span, whole_response)  # an answer, but not a quotient with its remainder


_NAME_VALUE = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*(?:=|≈)\s*(?=\S)")
_TUPLE = r"\(\s*([^()]*?)\s*\)"
_NAMED_TUPLE = re.compile(rf"{_TUPLE}\s*=\s*{_TUPLE}")
_PAIR_OF_NUMBERS = re.compile(r"[\(\[]\s*([^()\[\],]+?)\s*[,;]\s*([^()\[\],]+?)\s*[\)\]]")


def _single_number(text: str) -> Number | None:
    match = _NUMBER.fullmatch(text.strip())
    return _number_of(match) if match and match.group(0) else None


def _read_assignment(span: str, names: list[str] | None, whole_response: bool) -> dict[str, Number] | Number | None:
    """Values per unknown (the last one given to each name); `names` None takes every name given a
    value. A bare number for one unknown, a bare pair for x and y, only when no name is given one."""
    values: dict[str, tuple[int, Number]] = {}
    for match in _NAMED_TUPLE.finditer(span):
        keys = [k.strip() for k in match.group(1).split(",")]
        numbers = [_single_number(v) for v in match.group(2).split(",")]
        if len(keys) == len(numbers) and all(numbers) and all(re.fullmatch(r"[A-Za-z_]\w*", k) for k in keys):
            for key, number in zip(keys, numbers):
                values[key] = (match.start(), number)
    for match in _NAME_VALUE.finditer(span):
        found = numbers_in(span[match.end():match.end() + 40].rstrip())
        if found and found[0][0] == 0 and match.start() >= values.get(match.group(1), (-1, None))[0]:
            values[match.group(1)] = (match.start(), found[0][1])
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
        pairs = [(_single_number(m.group(1)), _single_number(m.group(2))) for m in _PAIR_OF_NUMBERS.finditer(span)]
        pairs = [p for p in pairs if p[0] and p[1]]
        if pairs:
            return {"x": pairs[-1][0], "y": pairs[-1][1]}
    return None


_FACTOR_PAIR = re.compile(r"[\(\[\{]\s*(\d+)\s*,\s*(\d+)\s*[\)\]\}]")
_PRODUCT = re.compile(r"(?<![\d.])(\d+)\s*(?:×|x|\*|times)\s*(\d+)(?![\d.])")


def _pairs_in(text: str) -> frozenset[tuple[int, int]] | None:
    pairs = [(int(a), int(b)) for a, b in _FACTOR_PAIR.findall(text)]
    if not pairs:
        pairs = [(int(a), int(b)) for a, b in _PRODUCT.findall(text)]
    return frozenset((min(p), max(p)) for p in pairs) if pairs else None


def _read_pairs(span: str, whole_response: bool) -> frozenset[tuple[int, int]] | None:
    if not whole_response:
        return _pairs_in(span.split("\n\n")[0])
    for line in reversed(span.splitlines()):
        pairs = _pairs_in(line)
        if pairs:
            return pairs
    return None


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
    markers = list(_MARKER.finditer(response))
    if markers:
        rest = response[markers[-1].end():].lstrip()
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
    if isinstance(reading, Number):
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


def _extract(response: str, reader: Callable[[str, bool], object]) -> tuple[object, str | None, str | None]:
    """The reading (None when none), the text shown for it, and where it was found."""
    span = _span(response)
    if span is not None:
        text, method = span
        if not text.strip():
            return None, None, None
        reading = reader(normalize(text), False)
        return reading, (_describe(reading) if reading is not None else _shown(text)), method
    reading = reader(normalize(response), True)
    return reading, (_describe(reading) if reading is not None else None), (FALLBACK if reading is not None else None)


def extract_answer(response: str, answer_kind: str | None = None) -> str | None:
    """The answer text a response gives (after its last `### Answer:`, else in its last
    `\\boxed{}`, else its last number), or None when it gives none.

    `answer_kind` (an AnswerKind's value) reads the fallback and the answer's text as that kind;
    without it a marker's or box's text is read as a number where it has one."""
    kind = answer_kind if answer_kind in ("comparison", "assignment", "remainder", "pairs") else "number"
    _, extracted, _ = _extract(response, _reader(kind))
    return extracted


def grade(response: str | None, gold: str, answer_kind: str | None = None) -> Graded:
    """The verdict on a response given the gold answer (our canonical text or MathCAMPS v1's),
    and the answer read from it. AnswerError if the gold answer cannot be read."""
    value = read_gold(gold, answer_kind)
    if response is None:
        return Graded(Verdict.no_answer, None, None)
    kind = _kind_of(value)
    reader = _reader(kind, list(value) if kind == "assignment" else None)
    reading, extracted, method = _extract(response, reader)
    if extracted is None:
        return Graded(Verdict.no_answer, None, None)
    verdict = Verdict.correct if reading is not None and _agrees(value, reading) else Verdict.wrong
    return Graded(verdict, extracted, method)
