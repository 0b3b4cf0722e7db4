"""Measures the text quality of a compiled problems file: sizes, referents, steps, variety, duplicates, standard fit.

    python benchmarks/text_scan.py PROBLEMS.jsonl [--json OUT.json] [--markdown] [--examples N]
    python benchmarks/text_scan.py --compare BEFORE.json AFTER.json

Every number is a heuristic over the English text (and, where said, the program text) of the
records; each scan function's docstring says exactly what it counts. People's names come from
the `people` key of templates/vocabulary.yaml and theme words from its `themes` values, so the
scan follows the vocabulary. `--examples N` prints up to N flagged statements per heuristic, to
judge the heuristics by; `--compare` prints a before/after markdown table of two `--json` files.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

VOCABULARY = Path(__file__).resolve().parent.parent / "templates" / "vocabulary.yaml"
GRADES = ["K", "1", "2", "3", "4", "5", "6", "7", "8"]
FOLLOWUPS = ("incremental", "counterfactual")

# A number as the statements write it: 1,245  -7  3.78  -2/12  (digits, commas, a decimal part, a fraction bar).
NUMBER = re.compile(r"(?<![\w.,/])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?![\d/])")  # "3x", "11³": the number too
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
PRONOUNS = {"she": "PRON", "he": "PRON", "her": "PRON2", "him": "PRON2", "his": "PRON2", "hers": "PRON2"}
# Units and other measure words: a number followed by one of these is not a count of things.
MEASURE_WORDS = {
    "minute", "second", "day", "week", "month", "year", "time", "percent", "cent", "dollar", "hour",
    "row", "column", "side", "degree", "square", "cubic",
}


# Theme keys that classify a theme (kind: distance, tags: [object, rope]) rather than fill its text.
THEME_METADATA = {"kind", "tags"}


@dataclass(frozen=True)
class Vocabulary:
    """Names and theme phrases from templates/vocabulary.yaml: the theme phrases are the string
    values of every theme key but THEME_METADATA, with their plurals; the unit words are the values
    of `unit` and `currency` keys with MEASURE_WORDS; the gain verbs are the values of `gain`."""

    names: tuple[str, ...]
    name_re: re.Pattern
    theme_phrases: frozenset[tuple[str, ...]]
    unit_words: frozenset[str]
    gain_verbs: frozenset[str]

    @classmethod
    def load(cls, path: Path = VOCABULARY) -> Vocabulary:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        names = tuple(sorted((p["name"] for p in data["people"]), key=len, reverse=True))
        phrases: set[str] = set()
        units: set[str] = set(MEASURE_WORDS)
        gains: set[str] = set()
        for theme in data["themes"].values():
            for key, value in theme.items():
                if key in THEME_METADATA:
                    continue
                values = value if isinstance(value, list) else [value]
                for v in values:
                    if not isinstance(v, str):
                        continue
                    phrases.add(v.lower())
                    if key in ("unit", "currency"):
                        units.add(v.lower())
                    if key == "gain":
                        gains.add(v)
        forms = {form for p in phrases for form in (p, _plural(p))}
        units |= {_plural(u) for u in units}
        name_re = re.compile(r"\b(?:" + "|".join(re.escape(n) for n in names) + r")\b")
        theme_phrases = frozenset(tuple(f.split()) for f in forms)
        return cls(names, name_re, theme_phrases, frozenset(units), frozenset(gains))

    def replace_themes(self, text: str) -> str:
        """Every theme phrase or its plural (whole words, any case, longest first) as T."""
        parts = re.split(r"([A-Za-z]+(?:-[A-Za-z]+)*)", text)  # even indices: separators, odd: words
        words = parts[1::2]
        longest = max((len(p) for p in self.theme_phrases), default=1)
        out, i = [parts[0]], 0
        while i < len(words):
            for n in range(min(longest, len(words) - i), 0, -1):
                between = parts[2 * i + 2 : 2 * (i + n) : 2]
                if all(sep == " " for sep in between) and tuple(w.lower() for w in words[i : i + n]) in self.theme_phrases:
                    out += ["T", parts[2 * (i + n)]]
                    i += n
                    break
            else:
                out += [words[i], parts[2 * i + 2]]
                i += 1
        return "".join(out)


@functools.cache
def default_vocabulary() -> Vocabulary:
    return Vocabulary.load()


def _plural(phrase: str) -> str:
    head, _, last = phrase.rpartition(" ")
    if last == "foot":
        plural = "feet"
    elif re.search(r"[^aeiou]y$", last):
        plural = last[:-1] + "ies"
    elif re.search(r"(s|x|ch|sh)$", last):
        plural = last + "es"
    else:
        plural = last + "s"
    return f"{head} {plural}" if head else plural


# ---------------------------------------------------------------------------------------------
# Small text and program helpers


def sentences(text: str) -> list[str]:
    """Sentences split after . ? ! and at double quotes, so that a quoted sentence (as counterfactuals
    quote one) is a sentence of its own."""
    return [s.strip() for part in text.split('"') for s in SENTENCE_END.split(part.strip()) if s.strip()]


def question(text: str) -> str:
    """The last sentence that ends with a question mark ('' when there is none)."""
    asked = [s for s in sentences(text) if s.endswith("?")]
    return asked[-1] if asked else ""


def narrative(text: str) -> list[str]:
    """The sentences that are not questions."""
    return [s for s in sentences(text) if not s.endswith("?")]


def number_value(token: str) -> Fraction:
    return Fraction(token.replace(",", ""))


def parse_answer(answer: str) -> Fraction | None:
    """An integer, decimal, fraction (3/4) or mixed number (8 37/44); None for anything else."""
    text = answer.strip()
    mixed = re.fullmatch(r"(-?)(\d+) (\d+)/(\d+)", text)
    if mixed:
        sign = -1 if mixed[1] else 1
        return sign * (int(mixed[2]) + Fraction(int(mixed[3]), int(mixed[4])))
    if re.fullmatch(r"-?\d+(?:\.\d+)?(?:/\d+)?", text):
        return Fraction(text)
    return None


def percentile(values: list, q: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least q% of the values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return float(ordered[int(rank) - 1])


_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?|[A-Za-z_]\w*|//|\*\*|[-+*/%^()=,_])")


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot read {text[pos:]!r}")
        out.append(m[1])
        pos = m.end()
    return out


class _Parser:
    """Expressions of the program language as nested tuples: ('num', Fraction), ('var', name),
    ('neg', e), (op, left, right) with op in + - * / // % ^."""

    LEVELS = (("+", "-"), ("*", "/", "//", "%"), ("^", "**"))

    def __init__(self, tokens: list[str]):
        self.tokens, self.pos = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expr(self, level: int = 0):
        if level == len(self.LEVELS):
            return self.unary()
        if self.LEVELS[level][0] == "^":  # right-associative
            left = self.expr(level + 1)
            if self.peek() in self.LEVELS[level]:
                self.take()
                return ("^", left, self.expr(level))
            return left
        left = self.expr(level + 1)
        while self.peek() in self.LEVELS[level]:
            op = self.take()
            left = (op, left, self.expr(level + 1))
        return left

    def unary(self):
        if self.peek() == "-":
            self.take()
            inner = self.unary()
            return ("num", -inner[1]) if inner[0] == "num" else ("neg", inner)
        token = self.take()
        if token == "(":
            inner = self.expr()
            self.take()  # ")"
            return inner
        if re.fullmatch(r"\d+(?:\.\d+)?", token):
            return ("num", Fraction(token))
        return ("var", token)


def program_expressions(program: str) -> list[tuple[str | None, tuple]]:
    """(bound name or None, expression) for every expression of a program: `let v = e` gives (v, e);
    `solve l = r` gives both sides; `compare l _ r` both sides; other lines give nothing."""
    out = []
    for line in program.splitlines():
        line = line.strip()
        try:
            if m := re.fullmatch(r"let (\w+) = (.+)", line):
                out.append((m[1], _Parser(_tokens(m[2])).expr()))
            elif m := re.fullmatch(r"solve (.+?) = (.+)", line) or re.fullmatch(r"compare (.+?) _ (.+)", line):
                out += [(None, _Parser(_tokens(side)).expr()) for side in (m[1], m[2])]
        except (ValueError, IndexError):
            continue
    return out


def walk(node):
    yield node
    if node[0] not in ("num", "var"):
        for child in node[1:]:
            yield from walk(child)


def is_fraction_literal(node) -> bool:
    """a / b written with two whole-number literals (the language writes 3/4 as `3 / 4`)."""
    return (
        node[0] == "/"
        and node[1][0] == "num"
        and node[2][0] == "num"
        and node[1][1].denominator == 1
        and node[2][1].denominator == 1
        and node[2][1] > 0
    )


def evaluate(node, env: dict):
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "var":
        return env[node[1]]
    if kind == "neg":
        return -evaluate(node[1], env)
    a, b = evaluate(node[1], env), evaluate(node[2], env)
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    if kind == "/":
        return a / b
    if kind == "//":
        return Fraction(a // b)
    if kind == "%":
        return a % b
    if kind == "^":
        return a**b if b.denominator == 1 else Fraction(float(a) ** float(b))
    raise ValueError(kind)


def additive_operands(node) -> list:
    """The operands of a chain of + and - (a - b + c gives a, b, c); [node] for anything else."""
    if node[0] in ("+", "-"):
        return additive_operands(node[1]) + additive_operands(node[2])
    if node[0] == "neg":
        return additive_operands(node[1])
    return [node]


def names_in(text: str, vocab: Vocabulary) -> set[str]:
    return set(vocab.name_re.findall(text))


class Flags:
    """Collects flagged examples per heuristic (only when examples are asked for); `picked` gives up
    to `limit` of each, spread evenly over the file."""

    def __init__(self, limit: int = 0):
        self.limit = limit
        self.items: dict[str, list[str]] = defaultdict(list)

    def add(self, key: str, text: str) -> None:
        if self.limit:
            self.items[key].append(text)

    def picked(self) -> dict[str, list[str]]:
        out = {}
        for key, items in self.items.items():
            step = max(1, len(items) / self.limit)
            out[key] = [items[int(i * step)] for i in range(min(self.limit, len(items)))]
        return out


# ---------------------------------------------------------------------------------------------
# The scans


HAVE_VERBS = {"has", "have", "had", "owns", "owned", "gets", "got", "keeps", "kept", "saved", "received"}


def _person_subject_re(vocab: Vocabulary, any_verb: bool = False) -> re.Pattern:
    """A sentence that opens (after an optional "Then ", "Later, ", "On Monday, " ...) with a name or
    "Name and Name", an optional adverb, and a verb of having or getting (HAVE_VERBS and the
    vocabulary's `gain` phrases), or with any_verb any lower-case word (so not "Ava's")."""
    names = "|".join(re.escape(n) for n in vocab.names)
    verbs = "|".join(re.escape(v) for v in sorted(HAVE_VERBS | vocab.gain_verbs, key=len, reverse=True))
    verb = r"[a-z]+" if any_verb else rf"(?:also |already |still |now |then )?(?:{verbs})\b"
    return re.compile(rf"^(?:(?:Then|Later|Now|Next|So|First),? |[A-Z][\w ]{{0,25}}, )?(?:{names})(?: and (?:{names}))? {verb}")


def _counts_1000(sentence: str, vocab: Vocabulary) -> bool:
    """The sentence has a whole number >= 1000 that counts things: not after "$", not followed by
    "¢" or a unit word (the vocabulary's units and currencies, MEASURE_WORDS)."""
    for m in NUMBER.finditer(sentence):
        if "." in m[0] or "/" in m[0] or abs(number_value(m[0])) < 1000 or sentence[: m.start()].endswith("$"):
            continue
        rest = sentence[m.end():]
        following = re.match(r"\s*([a-z]+)", rest)
        if rest.startswith("¢") or (following and following[1] in vocab.unit_words):
            continue
        return True
    return False


def scan_sizes(records: list[dict], vocab: Vocabulary | None = None, flags: Flags | None = None) -> dict:
    """Sizes of numbers next to people.

    person_owns_1000: statements with a sentence whose subject is a vocabulary name ("Felix has",
      "Later, Ava and Ben bought", optional opener) followed by a verb of having or getting (HAVE_VERBS
      and the vocabulary's `gain` phrases: has, had, got, kept, saved, bought, collected, won, ...),
      where the sentence holds a whole number >= 1000 that counts things: not after "$", not
      followed by "¢" or a unit word (the vocabulary's units and currencies, and
      minute/day/week/month/year/hour/row/side/...). A quoted sentence counts as a sentence.
    person_subject_1000: the same with any verb after the name ("Luca set out 90,780 flowers",
      "Ayla is lining up 78,864 baseballs", "Then Noor gives Kofi 78,477 crayons").
    person_sentence_1000: statements with any number >= 1000 (money and measures included) in a
      sentence that also names a vocabulary person (any role, "Ava's" included).
    p90_answer_by_grade: per grade, the nearest-rank 90th percentile of |answer| over originals
      whose answer is an integer, decimal, fraction or mixed number (others ignored).
    All counts are over all records (originals and follow-ups); the _by_kind splits say where.
    """
    vocab, flags = vocab or default_vocabulary(), flags or Flags()
    owns_re, subject_re = _person_subject_re(vocab), _person_subject_re(vocab, any_verb=True)
    found = {key: Counter() for key in ("person_owns_1000", "person_subject_1000", "person_sentence_1000")}
    answers: dict[str, list] = defaultdict(list)
    for r in records:
        hits = set()
        for s in sentences(r["statement"]):
            if not any(abs(number_value(m[0])) >= 1000 for m in NUMBER.finditer(s)):
                continue
            if vocab.name_re.search(s):
                hits.add("person_sentence_1000")
            if _counts_1000(s, vocab):
                if owns_re.search(s):
                    hits.add("person_owns_1000")
                if subject_re.search(s):
                    hits.add("person_subject_1000")
        for key in hits:
            found[key][r["kind"]] += 1
            flags.add(key, r["statement"])
        if r["kind"] == "original":
            value = parse_answer(str(r["answer"]))
            if value is not None:
                answers[str(r["grade"])].append(abs(value))
    out = {}
    for key, by_kind in found.items():
        out[key] = sum(by_kind.values())
        out[f"{key}_by_kind"] = dict(by_kind)
    return {
        **out,
        "p90_answer_by_grade": {g: percentile(answers[g], 90) for g in GRADES if answers.get(g)},
    }


DIFFERENCE_Q = re.compile(
    r"\bhow (?:many|much) (?:[\w'-]+ ){0,5}?(?:more|fewer|less|longer|shorter|farther|further|heavier|"
    r"lighter|taller|older|younger|wider|narrower)\b.*\bthan\b|\bhow many fewer\b|\bdifference\b",
    re.IGNORECASE,
)
RATE_Q = re.compile(r"\bper\b|\bfor one\b|\ban? (?:hour|minute|day|week|month|pound|mile|gallon)\b|\bon average\b", re.IGNORECASE)
EACH_Q = re.compile(r"\beach\b", re.IGNORECASE)
BACK_REFERENCE = re.compile(
    r"\bthan that\b|\bthat (?:many|much|distance|amount|time|money)\b|\bas (?:many|much|far|long|heavy)\b[^.?!]*?"
    r"\bas that\b|\bof that\b|\btimes as (?:many|much|long|far|heavy)\b(?![^.?!]*\bas\b)",
    re.IGNORECASE,
)
# Newcomers: people, groups, places and containers that a generic step brings in.
NEWCOMERS = {
    "another family": r"\b(?:another|the other) family\b",
    "family": r"\bfamil(?:y|ies)\b",
    "club": r"\bclubs?\b",
    "next town": r"\bnext town\b",
    "next door": r"\bnext door\b",
    "another school": r"\b(?:another|the other|a bigger) school\b",
    "another student": r"\b(?:another|the other) student\b",
    "cousin": r"\bcousins?\b",
    "neighbor": r"\bneighbou?rs?\b",
    "barrel": r"\bbarrels?\b",
    "bucket": r"\bbuckets?\b",
    "jug": r"\bjugs?\b",
    "warehouse": r"\bwarehouses?\b",
    "store": r"\bstores?\b",
    "library": r"\blibrar(?:y|ies)\b",
    "principal": r"\bprincipal\b",
    "café": r"\bcaf[eé]\b",
}
NEWCOMER_RES = {k: re.compile(v, re.IGNORECASE) for k, v in NEWCOMERS.items()}
# "another family" also contains "family": a newcomer term is checked only when no longer one holds it.
_NEWCOMER_INSIDE = {"family": "another family"}


def newcomers(step: str, parent: str) -> list[str]:
    """The NEWCOMERS terms that occur in the step and not in the parent statement."""
    found = [k for k, rx in NEWCOMER_RES.items() if rx.search(step) and not rx.search(parent)]
    return [k for k in found if _NEWCOMER_INSIDE.get(k) not in found]


def _parents(records: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in records if r["kind"] == "original"}


def scan_referents(records: list[dict], vocab: Vocabulary | None = None, flags: Flags | None = None) -> dict:
    """Referent faults in incremental follow-ups (the step text is the record's statement).

    difference_as_possession: the parent's question (its last sentence with "?") asks a difference
      ("how many/much <words> more|fewer|less|longer|shorter|farther|heavier|... than", "how many
      fewer", "difference") and the step refers back to that answer as an amount: "than that",
      "that many|much|distance|amount|time|money", "as many/much/far/long/heavy ... as that", "of
      that", or "N times as many/much/long/far" with no "as ..." after it (implicitly "as that").
    rate_as_possession: the parent's question asks a rate or per-unit value ("per", "for one",
      "a/an hour|minute|day|week|month|pound|mile|gallon", "on average"; not counted as a
      difference) and the step refers back the same way.
    each_as_possession: the parent's question asks an each value ("each", and neither of the
      above) and the step refers back the same way. (Weaker: "7 times that many" after "how many
      are in each row?" can read well.)
    newcomer: the step has a NEWCOMERS term (another family, family, club, next town, next door,
      another school/student, cousin, neighbor, barrel, bucket, jug, warehouse, store, library,
      principal, café) that the parent statement lacks; newcomer_by_term counts each term
      (a step can have several).
    """
    vocab, flags = vocab or default_vocabulary(), flags or Flags()
    parents = _parents(records)
    difference = rate = each = newcomer = 0
    terms: Counter = Counter()
    for r in records:
        if r["kind"] != "incremental" or r["parent"] not in parents:
            continue
        parent, step = parents[r["parent"]]["statement"], r["statement"]
        asked = question(parent)
        if BACK_REFERENCE.search(step):
            if DIFFERENCE_Q.search(asked):
                difference += 1
                flags.add("difference_as_possession", f"{asked}  ->  {step}")
            elif RATE_Q.search(asked):
                rate += 1
                flags.add("rate_as_possession", f"{asked}  ->  {step}")
            elif EACH_Q.search(asked):
                each += 1
                flags.add("each_as_possession", f"{asked}  ->  {step}")
        new = newcomers(step, parent)
        if new:
            newcomer += 1
            terms.update(new)
            flags.add("newcomer", f"[{', '.join(new)}] {step}")
    return {
        "difference_as_possession": difference,
        "rate_as_possession": rate,
        "each_as_possession": each,
        "newcomer": newcomer,
        "newcomer_by_term": dict(terms.most_common()),
    }


GENERIC_ARITHMETIC = re.compile(
    r"^Now (?:add|subtract|multiply|divide)\b.*\bthat (?:result|number|value)\b|\bWhat is\b[^?]*\bthat\b",
    re.IGNORECASE,
)
PAST_VERBS = {
    "had", "was", "were", "bought", "gave", "got", "made", "ran", "took", "ate", "found", "won", "sold",
    "spent", "paid", "drove", "lost", "kept", "grew", "brought", "wrote", "saw", "went", "came", "drew",
    "threw", "sent", "left", "built", "dug", "swam", "rode", "baked", "split", "cost", "did",
}
NOT_PAST = {"red", "bed", "need", "seed", "speed", "hundred", "shed", "sled", "feed", "striped", "shaped", "sized"}
PRESENT_MAIN = {"has", "have", "is", "are"}
PRESENT_VERBS = PRESENT_MAIN | {
    form
    for verb in (
        "hold", "want", "need", "get", "give", "put", "take", "make", "use", "spend", "cost", "buy", "keep",
        "do", "sell", "share", "save", "earn", "plan", "line", "pack", "weigh", "drive", "walk", "work",
    )
    for form in (verb, verb + "es" if verb == "do" else verb + "s")
} - {"put", "cost"}


def first_verb(sentence: str) -> str | None:
    """The first word of the sentence that is a known present verb (PRESENT_VERBS: has, have, is,
    are and present forms of common verbs), a known past verb (PAST_VERBS) or a word ending in -ed
    but not in NOT_PAST, skipping the word right after that/who/which; None when there is none."""
    previous = ""
    for word in re.findall(r"[a-z]+", sentence.lower()):
        if previous in ("that", "who", "which"):  # a relative clause's verb is not the main verb
            previous = word
            continue
        previous = word
        if word in PRESENT_VERBS or word in PAST_VERBS:
            return word
        if word.endswith("ed") and word not in NOT_PAST:
            return word
    return None


def is_past_story(statement: str) -> bool:
    """Some narrative sentence's first verb is past and none's is present."""
    verbs = [first_verb(s) for s in narrative(statement)]
    verbs = [v for v in verbs if v]
    return any(v not in PRESENT_VERBS for v in verbs) and not any(v in PRESENT_VERBS for v in verbs)


def scan_generic_steps(records: list[dict], vocab: Vocabulary | None = None, flags: Flags | None = None) -> dict:
    """How incremental steps continue their parent.

    generic: the step has a NEWCOMERS term the parent lacks (see scan_referents), or is generic
      arithmetic ("Now add/subtract/multiply/divide ... that result/number/value", "What is ...
      that").
    continues_person: not generic, and the step names a vocabulary person who is named in the
      parent statement.
    other: the rest (the step continues with the parent's things or places, or a new person).
    present_switch: the parent story is past (some narrative sentence's first verb is a past form
      such as had/bought/ran or an -ed word, none is has/have/is/are or another present form) and a
      narrative sentence of the step has has/have/is/are as its first verb.
    Shares are of all incrementals.
    """
    vocab, flags = vocab or default_vocabulary(), flags or Flags()
    parents = _parents(records)
    total = generic = person = switch = 0
    for r in records:
        if r["kind"] != "incremental" or r["parent"] not in parents:
            continue
        total += 1
        parent, step = parents[r["parent"]]["statement"], r["statement"]
        if newcomers(step, parent) or GENERIC_ARITHMETIC.search(step):
            generic += 1
            flags.add("generic", step)
        elif names_in(step, vocab) & names_in(parent, vocab):
            person += 1
            flags.add("continues_person", step)
        else:
            flags.add("other", step)
        if is_past_story(parent) and any(first_verb(s) in PRESENT_MAIN for s in narrative(step)):
            switch += 1
            flags.add("present_switch", f"{parent}  ->  {step}")
    share = (lambda n: round(n / total, 4) if total else None)
    return {
        "incrementals": total,
        "generic": generic,
        "generic_share": share(generic),
        "continues_person": person,
        "continues_person_share": share(person),
        "other_share": share(total - generic - person),
        "present_switch": switch,
        "present_switch_share": share(switch),
    }


def frame_of(statement: str, vocab: Vocabulary, themes: bool = False) -> str:
    """The statement with numbers as N, names as P, she/he and her/him/his normalised, and (with
    themes) every vocabulary theme phrase or its plural as T (runs of T merged); lower-cased."""
    text = NUMBER.sub("N", statement)
    text = vocab.name_re.sub("P", text)
    if themes:
        text = vocab.replace_themes(text)
        text = re.sub(r"\bT(?:\s+T\b)+", "T", text)
    text = re.sub(r"\b(she|he|her|him|his|hers)\b", lambda m: PRONOUNS[m[1].lower()], text, flags=re.IGNORECASE)
    return " ".join(text.lower().split())


def scan_variety(records: list[dict], vocab: Vocabulary | None = None, flags: Flags | None = None) -> dict:
    """Distinct statement frames (see frame_of) of originals.

    per standard: among its first 100 originals in file order; min, median and the 8 weakest
    standards (fewest frames). per grade: among all of that grade's originals. Reported twice:
    `frames` (numbers, names, pronouns normalised) and `frames_themes` (theme phrases as T too).
    """
    vocab, flags = vocab or default_vocabulary(), flags or Flags()
    by_standard: dict[str, list[dict]] = defaultdict(list)
    by_grade: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        if r["kind"] == "original":
            by_standard[r["standard"]].append(r)
            by_grade[str(r["grade"])].append(r)
    out = {}
    for key, themes in (("frames", False), ("frames_themes", True)):
        frames = {r["id"]: frame_of(r["statement"], vocab, themes) for rs in by_grade.values() for r in rs}
        counts = {s: len({frames[r["id"]] for r in rs[:100]}) for s, rs in by_standard.items()}
        weakest = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))[:8]
        out[key] = {
            "min": min(counts.values()) if counts else None,
            "median": statistics.median(counts.values()) if counts else None,
            "weakest": dict(weakest),
            "per_grade": {
                g: len({frames[r["id"]] for r in by_grade[g]}) for g in GRADES if g in by_grade
            },
            "per_standard": counts,
        }
    if flags.limit and by_standard:
        weakest_standard = min(out["frames"]["per_standard"], key=out["frames"]["per_standard"].get)
        for frame, n in Counter(frame_of(r["statement"], vocab) for r in by_standard[weakest_standard][:100]).most_common(
            flags.limit
        ):
            flags.add("weakest_standard_frames", f"{weakest_standard} x{n}: {frame}")
    return out


def scan_counterfactuals(records: list[dict], vocab: Vocabulary | None = None, flags: Flags | None = None) -> dict:
    """Openings of counterfactual statements: the text before the first `"`, `:` or digit (less a
    trailing sign, "$" or "("), whitespace-normalised, names as P (so a phrasing that quotes the
    changed sentence after a colon counts once). Distinct openings, the most common one's share, top 5."""
    vocab, flags = vocab or default_vocabulary(), flags or Flags()
    openings = Counter()
    for r in records:
        if r["kind"] != "counterfactual":
            continue
        head = re.split(r'["\d:]', r["statement"], maxsplit=1)[0].rstrip(" -$(")
        openings[" ".join(vocab.name_re.sub("P", head).split())] += 1
    total = sum(openings.values())
    top = openings.most_common(5)
    for opening, n in top:
        flags.add("openings", f"x{n}: {opening}")
    return {
        "counterfactuals": total,
        "distinct_openings": len(openings),
        "top_opening_share": round(top[0][1] / total, 4) if total else None,
        "top_openings": dict(top),
    }


def scan_duplicates(records: list[dict], vocab: Vocabulary | None = None, flags: Flags | None = None) -> dict:
    """Statements repeated word for word; each group of equal statements counts its records after
    the first.

    followups: among incremental and counterfactual records (by kind too). originals: among
    originals. incremental_with_parent / counterfactual_with_parent: the same over the parent's
    statement + the follow-up's (a follow-up's text alone may repeat across parents, as "Now add 3
    to that result." does, without the problem repeating).
    """
    vocab, flags = vocab or default_vocabulary(), flags or Flags()
    def excess(texts: list[str], key: str) -> int:
        counts = Counter(texts)
        for text, n in counts.most_common(2):
            if n > 1:
                flags.add(key, f"x{n}: {text}")
        return sum(n - 1 for n in counts.values())

    parents = _parents(records)
    kinds = defaultdict(list)
    for r in records:
        kinds[r["kind"]].append(r["statement"])
    full = defaultdict(list)
    for r in records:
        if r["kind"] in FOLLOWUPS and r["parent"] in parents:
            full[r["kind"]].append(parents[r["parent"]]["statement"] + " " + r["statement"])
    return {
        "followups": excess(kinds["incremental"] + kinds["counterfactual"], "followups"),
        "incremental": excess(kinds["incremental"], "incremental"),
        "counterfactual": excess(kinds["counterfactual"], "counterfactual"),
        "incremental_with_parent": excess(full["incremental"], "incremental_with_parent"),
        "counterfactual_with_parent": excess(full["counterfactual"], "counterfactual_with_parent"),
        "originals": excess(kinds["original"], "originals"),
    }


COINS = re.compile(r"\b(?:quarters?|dimes?|nickels?|penny|pennies|dollar bills?|bills?)\b|¢", re.IGNORECASE)
SOME = re.compile(r"\bsome\b", re.IGNORECASE)
MORE_FEWER = re.compile(r"\bhow (?:many|much) (?:[\w'-]+ ){0,5}?(?:more|fewer|less)\b", re.IGNORECASE)
FRACTION_OR_DECIMAL = re.compile(r"\d\.\d|\d/\d")


def unlike_additions(program: str) -> bool:
    """The program adds or subtracts fractions with unlike denominators: in some + / - chain, the
    fraction operands have more than one denominator, not just {10, 100}. A fraction operand is a
    literal a / b (its written denominator b) or a variable whose exact value is not whole (the
    denominator of that value in lowest terms); whole operands and the unknown are skipped."""
    env: dict[str, Fraction] = {}
    found = False
    for name, node in program_expressions(program):
        for sub in walk(node):
            if sub[0] not in ("+", "-"):
                continue
            dens = set()
            for operand in additive_operands(sub):
                if is_fraction_literal(operand):
                    dens.add(operand[2][1].numerator)
                elif operand[0] == "var" and operand[1] in env and env[operand[1]].denominator != 1:
                    dens.add(env[operand[1]].denominator)
            if len(dens) > 1 and not dens <= {10, 100}:
                found = True
        if name:
            try:
                env[name] = evaluate(node, env)
            except (KeyError, ZeroDivisionError, ValueError, OverflowError):
                pass
    return found


def multiplies_by_one(program: str) -> bool:
    """Some * has a literal 1 as either operand, or some / has the literal 1 as divisor."""
    for _, node in program_expressions(program):
        for sub in walk(node):
            if sub[0] == "*" and ("num", 1) in (sub[1], sub[2]):
                return True
            if sub[0] in ("/", "//") and sub[2] == ("num", 1):
                return True
    return False


def scan_standard_fit(records: list[dict], vocab: Vocabulary | None = None, flags: Flags | None = None) -> dict:
    """Rules about what a standard's problems should hold.

    coins_2MDC8: share of 2.MD.C.8 originals naming a coin or bill or using ¢ (quarter, dime,
      nickel, penny/pennies, (dollar) bill, ¢).
    unlike_fractions_4MDA2: share of 4.MD.A.2-fraction originals whose program adds/subtracts
      fractions with unlike denominators (see unlike_additions).
    whole_numbers_6EEB7: share of 6.EE.B.7 originals whose statement has no decimal (d.d) and no
      fraction (d/d) number.
    some_is_zero: records whose statement has the word "some" and whose answer is 0.
    more_fewer_is_zero: records whose statement asks "how many/much <words> more|fewer|less" and
      whose answer is 0.
    times_one: records whose program multiplies by a literal 1 or divides by it (see multiplies_by_one).
    The last three count all records, with a split by kind.
    """
    vocab, flags = vocab or default_vocabulary(), flags or Flags()
    per_standard: dict[str, list[dict]] = defaultdict(list)
    some_zero, more_zero, times_one = Counter(), Counter(), Counter()
    for r in records:
        if r["kind"] == "original":
            per_standard[r["standard"]].append(r)
        zero = str(r["answer"]).strip() == "0"
        if zero and SOME.search(r["statement"]):
            some_zero[r["kind"]] += 1
            flags.add("some_is_zero", r["statement"])
        if zero and MORE_FEWER.search(r["statement"]):
            more_zero[r["kind"]] += 1
            flags.add("more_fewer_is_zero", r["statement"])
        if multiplies_by_one(r["program"]):
            times_one[r["kind"]] += 1
            flags.add("times_one", f"{r['statement']}  [{' ; '.join(r['program'].splitlines())}]")

    def share(standard: str, test, key: str) -> dict:
        rs = per_standard.get(standard, [])
        hits = {r["id"] for r in rs if test(r)}
        for r in rs:
            flags.add(key if r["id"] in hits else f"not_{key}", r["statement"])
        return {"count": len(hits), "of": len(rs), "share": round(len(hits) / len(rs), 4) if rs else None}

    return {
        "coins_2MDC8": share("2.MD.C.8", lambda r: bool(COINS.search(r["statement"])), "coins_2MDC8"),
        "unlike_fractions_4MDA2": share(
            "4.MD.A.2-fraction", lambda r: unlike_additions(r["program"]), "unlike_fractions_4MDA2"
        ),
        "whole_numbers_6EEB7": share(
            "6.EE.B.7", lambda r: not FRACTION_OR_DECIMAL.search(r["statement"]), "whole_numbers_6EEB7"
        ),
        "some_is_zero": sum(some_zero.values()),
        "some_is_zero_by_kind": dict(some_zero),
        "more_fewer_is_zero": sum(more_zero.values()),
        "more_fewer_is_zero_by_kind": dict(more_zero),
        "times_one": sum(times_one.values()),
        "times_one_by_kind": dict(times_one),
    }


SCANS = {
    "sizes": scan_sizes,
    "referents": scan_referents,
    "generic_steps": scan_generic_steps,
    "variety": scan_variety,
    "counterfactuals": scan_counterfactuals,
    "duplicates": scan_duplicates,
    "standard_fit": scan_standard_fit,
}


def scan(records: list[dict], vocab: Vocabulary | None = None, flags: Flags | None = None) -> dict:
    """Every scan over the records: {scan name: its dict of numbers}, with the record counts."""
    vocab, flags = vocab or default_vocabulary(), flags or Flags()
    result = {"records": dict(Counter(r["kind"] for r in records))}
    for name, fn in SCANS.items():
        result[name] = fn(records, vocab, flags)
    return result


# ---------------------------------------------------------------------------------------------
# Output


def rows(result: dict) -> list[tuple[str, str]]:
    """(metric, value) rows for display: nested numbers flattened to dotted keys; small dicts of
    counts written inline; the per_standard frame counts left out (they are in the JSON)."""
    out = []

    def visit(prefix: str, value) -> None:
        if isinstance(value, dict):
            if prefix.endswith("per_standard"):
                return
            if value and all(not isinstance(v, dict) for v in value.values()) and (
                prefix.split(".")[-1] in ("weakest", "per_grade", "top_openings", "newcomer_by_term", "records")
                or prefix.endswith(("_by_kind", "_by_grade"))
            ):
                out.append((prefix, ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())))
                return
            for k, v in value.items():
                visit(f"{prefix}.{k}" if prefix else k, v)
        else:
            out.append((prefix, _fmt(value)))

    visit("", result)
    return out


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    return str(value)


def markdown(table_rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table_rows]
    return "\n".join(lines)


def flatten(result: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for k, v in result.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def compare(before: dict, after: dict) -> str:
    """A markdown table of every numeric metric in either scan, before, after and the change
    (per-standard frame counts left out; the weakest-standard and top-opening entries are
    compared by key, so a standard missing on one side shows '-')."""
    b, a = flatten(before), flatten(after)
    table = []
    for key in list(b) + [k for k in a if k not in b]:
        if ".per_standard." in key:
            continue
        x, y = b.get(key), a.get(key)
        change = ""
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            d = y - x
            change = "0" if d == 0 else f"{d:+.4g}" if isinstance(d, float) else f"{d:+d}"
        table.append((key, _fmt(x), _fmt(y), change))
    return markdown(table, ("metric", "before", "after", "change"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("problems", nargs="?", type=Path, help="a compiled problems.jsonl")
    parser.add_argument("--json", type=Path, help="write every number to this JSON file")
    parser.add_argument("--markdown", action="store_true", help="also print the table as markdown")
    parser.add_argument("--examples", type=int, default=0, metavar="N", help="print up to N flagged statements per heuristic")
    parser.add_argument("--vocabulary", type=Path, default=VOCABULARY, help="the vocabulary.yaml with people and themes")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="compare two --json files")
    args = parser.parse_args()
    console = Console()

    if args.compare:
        before, after = (json.loads(p.read_text(encoding="utf-8")) for p in args.compare)
        print(compare(before, after))
        return
    if not args.problems:
        parser.error("give a problems.jsonl (or --compare BEFORE.json AFTER.json)")

    records = [json.loads(line) for line in args.problems.read_text(encoding="utf-8").splitlines() if line.strip()]
    flags = Flags(args.examples)
    result = scan(records, Vocabulary.load(args.vocabulary), flags)
    table_rows = rows(result)

    table = Table(title=f"text scan of {args.problems.name}")
    table.add_column("metric", no_wrap=True)
    table.add_column("value", overflow="fold")
    for metric, value in table_rows:
        table.add_row(metric, value)
    console.print(table)
    if args.markdown:
        print(markdown(table_rows, ("metric", "value")))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for key, items in flags.picked().items():
        console.rule(f"flagged: {key}")
        for text in items:
            console.print(f"- {text}", markup=False, highlight=False)


if __name__ == "__main__":
    main()
