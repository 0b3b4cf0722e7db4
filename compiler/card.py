"""The dataset card of a release: a README.md with the YAML header that dataset hubs read, the standards and
their counts, example problems, how the release was made, and its license.

The header's `configs` name the data files of each split and `dataset_info` their features, so
`datasets.load_dataset(folder)` reads a release (or its `hf` export) with the right splits and types.
"""

from __future__ import annotations

import jinja2
import yaml

from mathcamps.records import Problem

# The features of a record (mathcamps.records.Problem), as the `datasets` library names them.
FEATURES: list[tuple[str, object]] = [
    ("schema_version", "int64"),
    ("id", "string"),
    ("standard", "string"),
    ("grade", "string"),
    ("kind", "string"),
    ("parent", "string"),
    ("seed", "int64"),
    ("index", "int64"),
    ("program", "string"),
    ("statement", "string"),
    ("answer", "string"),
    ("answer_kind", "string"),
    ("verdicts", [("sympy", "string"), ("z3", "string")]),
    ("render", [("frame", "string"), ("theme", "string"),
                ("spans", ("list", [("start", "int64"), ("end", "int64"), ("source", "string")]))]),
]

FIELDS = {
    "id": "`STANDARD-i` for an original, `STANDARD-i-KIND` for its follow-up",
    "standard": "the Common Core standard (and variant) the problem belongs to",
    "grade": "K or 1-8",
    "kind": "`original`, or the follow-up's kind: `counterfactual` (one given quantity changes) or "
            "`incremental` (the story goes on by one step)",
    "parent": "a follow-up's original (null for an original); it comes right before its follow-ups",
    "seed, index": "the release seed and the problem's index: problem *i* depends only on (seed, standard, i)",
    "program": "the problem in the mathcamps problem language, canonical text",
    "statement": "the word problem",
    "answer": "the exact answer in the canonical text of its kind",
    "answer_kind": "integer, fraction, mixed, decimal, comparison, assignment, remainder or pairs",
    "verdicts": "sympy's answer and z3's proof status (always `proved`)",
    "render": "the frame and theme the statement was written from, and the span of each literal and the question",
}


def _feature_yaml(name: str, spec) -> dict:
    if isinstance(spec, str):
        return {"name": name, "dtype": spec}
    if isinstance(spec, tuple):  # ("list", struct fields)
        return {"name": name, "list": [_feature_yaml(n, s) for n, s in spec[1]]}
    return {"name": name, "struct": [_feature_yaml(n, s) for n, s in spec]}


def features_yaml() -> list[dict]:
    """The `dataset_info.features` of a record, as a dataset card's header writes them."""
    return [_feature_yaml(name, spec) for name, spec in FEATURES]


def hub_header(manifest, data_files: dict[str, str], num_bytes: dict[str, int] | None = None) -> str:
    """The YAML header (between --- lines) of a card whose split files are `data_files` (split -> path)."""
    total = manifest.records
    size = next(
        label
        for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                             (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))
        if total < bound
    ) if total < 10_000_000 else "n>10M"
    header = {
        "license": "mit",
        "language": ["en"],
        "pretty_name": f"{manifest.name} {manifest.version}",
        "task_categories": ["question-answering", "text-generation"],
        "tags": ["math", "math-word-problems", "common-core", "synthetic", "mathcamps"],
        "size_categories": [size],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": path} for split, path in data_files.items()],
            }
        ],
        "dataset_info": {
            "features": features_yaml(),
            "splits": [
                {
                    "name": split,
                    "num_bytes": (num_bytes or {}).get(split, manifest.files[f"data/{split}.jsonl"].bytes),
                    "num_examples": sum(manifest.counts[split].values()),
                }
                for split in data_files
            ],
        },
    }
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=1000) + "---\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _quote(text: str) -> str:
    return text.replace("\n", "\n> ")


_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True
)
_ENV.filters.update(cell=_cell, quote=_quote)
_CARD = _ENV.from_string(
    """{{ header }}
# {{ m.name }} {{ m.version }}

{{ "{:,}".format(m.records) }} verified math word problems on {{ m.standards | length }} Common Core standards
(grades {{ grades }}): {{ "{:,}".format(originals) }} originals and {{ "{:,}".format(m.records - originals) }} follow-up
questions. Every answer was computed exactly by sympy and proved by z3, and every statement was checked to say
exactly its program. Compiled by mathcamps {{ m.mathcamps_version }}.

## Files

| split | file | originals | counterfactual | incremental | records | bytes | sha256 |
|---|---|--:|--:|--:|--:|--:|---|
{% for split in splits %}
| {{ split }} | `data/{{ split }}.jsonl` | {{ m.counts[split].original }} | {{ m.counts[split].counterfactual }} | {{ m.counts[split].incremental }} | {{ m.files["data/" ~ split ~ ".jsonl"].records }} | {{ m.files["data/" ~ split ~ ".jsonl"].bytes }} | `{{ m.files["data/" ~ split ~ ".jsonl"].sha256[:16] }}…` |
{% endfor %}

`manifest.json` holds the full sha256 of every file, the counts per standard, kind and split, the
rejected candidates by reason, and the versions of the tools, grammars and definitions that made the release.

```python
from datasets import load_dataset
release = load_dataset("json", data_files={"train": "data/train.jsonl", "test": "data/test.jsonl"})
```

Each line is one record:

| field | meaning |
|---|---|
{% for name, meaning in fields.items() %}
| `{{ name }}` | {{ meaning }} |
{% endfor %}

## Standards

| standard | grade | text | train | test | duplicates dropped |
|---|---|---|--:|--:|--:|
{% for s in m.standards %}
| {{ s.id }} | {{ s.grade }} | {{ s.text | cell }} | {{ s.counts.train.values() | sum }} | {{ s.counts.test.values() | sum }} | {{ s.duplicates.values() | sum }} |
{% endfor %}

## Examples

{% for group in examples %}
{% set original = group[0] %}
### Grade {{ original.grade }}: {{ original.standard }} (`{{ original.id }}`)

> {{ original.statement | quote }}

Answer: `{{ original.answer }}` ({{ original.answer_kind.value }})

```
{{ original.program }}
```
{% for followup in group[1:] %}

{{ followup.kind.value | capitalize }} follow-up (`{{ followup.id }}`):

> {{ followup.statement | quote }}

Answer: `{{ followup.answer }}`
{% endfor %}

{% endfor %}
## How it was made

Each standard is data: a Lark grammar of problem programs and a definition of its number ranges,
constraints, answer kind and sentence frames. For each standard, mathcamps sampled programs from the
grammar with a seeded derivation sampler (seed {{ m.seed }}; problem *i* depends only on the seed, the
standard and *i*), chose numbers under the declared constraints, parsed each program back with its
grammar, solved it exactly with sympy, checked every declared constraint on every value, rendered the
statement from a sentence frame and checked that it says exactly the program, and had z3 prove the answer
from its own translation of the program. Candidates failing any stage were rejected and counted
({{ "{:,}".format(rejected) }} in all{% if top_rejections %}; most often: {{ top_rejections }}{% endif %}).

{{ m.per_standard }} originals were asked of each standard. An original whose program and statement an
earlier original of the release already had (of any standard) was dropped with its follow-ups. The split is made by a hash,
never by chance: {{ m.split_rule }} (test fraction {{ m.test_fraction }}).

Tools: mathcamps {{ m.mathcamps_version }}, Python {{ m.python }}, {{ libraries }}.

## License

MIT. The problems were generated by mathcamps, following MathCAMPS (Mishra, Poesia and Goodman, 2024,
"MathCAMPS: Fine-grained Synthesis of Mathematical Problems From Human Curricula").
"""
)


def render_card(manifest, examples: list[list[Problem]], data_files: dict[str, str] | None = None,
                num_bytes: dict[str, int] | None = None) -> str:
    """The README.md of a release (or of an export whose split files are `data_files`)."""
    splits = ("train", "test")
    data_files = data_files or {split: f"data/{split}.jsonl" for split in splits}
    grades = []
    for entry in manifest.standards:
        if entry.grade not in grades:
            grades.append(entry.grade)
    rejected = sum(manifest.rejections.values())
    top = list(manifest.rejections.items())[:3]
    return _CARD.render(
        header=hub_header(manifest, data_files, num_bytes),
        m=manifest,
        splits=splits,
        grades=", ".join(grades),
        originals=sum(manifest.counts[split]["original"] for split in splits),
        fields=FIELDS,
        examples=examples,
        rejected=rejected,
        top_rejections="; ".join(f"{reason} ({count:,})" for reason, count in top),
        libraries=", ".join(f"{name} {version}" for name, version in manifest.libraries.items()),
    )
