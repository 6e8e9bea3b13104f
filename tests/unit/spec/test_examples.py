"""The commented examples a first drill carries cover every kind of check and load as written."""

from __future__ import annotations

import re

from drillbook.spec.examples import check_models, commented_examples
from drillbook.spec.models import CHECK_MODELS, Drill
from drillbook.spec.yamlsource import load_located

MINIMAL = {"name": "x", "objectives": {"rto": "1h", "rpo": "1d"},
           "source": {"repository": "/r", "password": {"env": "PW"}},
           "services": {"db": {"type": "postgres", "dump": "srv/db/clinic.dump"}}}  # what sql queries


def uncommented(text: str) -> str:
    """What a person gets removing one ``# `` from each line of the examples."""
    return "".join(re.sub(r"^(\s*)# ?", r"\1", line) for line in text.splitlines(keepends=True))


def test_every_kind_of_check_the_models_have_appears_among_the_examples():
    text = commented_examples()
    kinds = re.findall(r"^  # - type: (\w+)$", text, re.M)
    assert kinds == list(check_models()) and set(kinds) == set(CHECK_MODELS)


def test_every_field_of_every_kind_is_shown():
    blocks = commented_examples().split("  # - type: ")[1:]
    for block, model in zip(blocks, check_models().values(), strict=True):
        shown = set(re.findall(r"^  #   (?:# )?(\w+):", block, re.M))
        assert shown == set(model.model_fields) - {"type"}, block


def test_each_example_uncommented_is_a_check_that_loads():
    located = load_located("verify:\n" + uncommented(commented_examples()))
    checks = located.data["verify"]
    drill = Drill.model_validate({**MINIMAL, "verify": checks})
    assert [c.type for c in drill.verify] == list(check_models())
