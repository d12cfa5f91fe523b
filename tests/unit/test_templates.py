"""Organisation-written reminder texts: filled in, checked, and unable to reach anything else."""
from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from core.templates import render, template_problems

VALUES = {"kund": "Solbackens vårdcentral", "mottagare": "Sara Svensson", "rubrik": "Avtalet löper ut",
          "typ": "Avtalsuppföljning", "datum": "1 juli 2026", "dagar_kvar": 14}


def test_a_template_is_filled_in():
    text = "Hej {{ mottagare }}! {{ rubrik }} för {{ kund }} den {{ datum }} ({{ dagar_kvar }} dagar kvar)."
    assert template_problems(text) == []
    assert render(text, VALUES) == ("Hej Sara Svensson! Avtalet löper ut för Solbackens vårdcentral den 1 juli 2026 "
                                    "(14 dagar kvar).")


def test_free_text_is_a_template_without_names():
    assert template_problems("Glöm inte kontrollen.") == []
    assert render("Glöm inte kontrollen.", VALUES) == "Glöm inte kontrollen."


@pytest.mark.parametrize("text, problem", [
    ("Hej {{ namn }}", "uses unknown name(s) namn; available: dagar_kvar, datum, kund, mottagare, rubrik, typ"),
    ("Hej {{ kund ", "is not a valid template"),
    ("x" * 2001, "is longer than 2000 characters"),
])
def test_bad_templates_say_what_to_change(text, problem):
    problems = template_problems(text)
    assert len(problems) == 1 and problems[0].startswith(problem)


def test_the_sandbox_keeps_templates_away_from_python_internals():
    with pytest.raises(SecurityError):
        render("{{ kund.__class__.__mro__[1].__subclasses__() }}", VALUES)
