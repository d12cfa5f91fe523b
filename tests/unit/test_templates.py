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


# ---------------------------------------------------------------- cost limits (core/templates/budget.py)

import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from core.templates import (  # noqa: E402
    LIMITS,
    Limits,
    RenderJob,
    TenantTime,
    check_template,
    render_batch,
    render_one,
)

NESTED = "{% for a in kund * 99 %}{% for b in kund * 99 %}{{ a }}{% endfor %}{% endfor %}"
NESTED_RANGE = "{% for a in range(99999) %}{% for b in range(99999) %}…{% endfor %}{% endfor %}"
DOUBLING = "{% set a = kund %}" + "{% set a = a ~ a %}" * 12 + "{{ a }}"
RECURSION = "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"

# (text, code): every way the issue found and the class around it, each stopped by a limit.
COSTLY = [
    (NESTED, "slow"),
    (NESTED_RANGE, "slow"),
    ("{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}", "slow"),
    ("{{ 9**(9**7) }}", "number"),
    ("{{ 10**400 }}", "number"),
    ("{{ (2**1000) * (2**1000) }}", "number"),
    ("{{ 'x' * 10**9 }}", "output"),
    ("{{ [kund] * 10**9 }}", "output"),
    ("{{ range(10**9)|join }}", "slow"),
    ("{{ range(9999)|join }}", "output"),
    ("{{ kund|center(999999999) }}", "width"),
    ("{{ kund|indent(999999999) }}", "width"),
    ("{{ kund|wordwrap(1, wrapstring='x' * 5000) }}", "output"),
    ("{{ kund|replace('', 'x' * 5000) }}", "output"),
    ("{{ kund.replace('', 'x' * 5000) }}", "output"),
    ("{{ range(10)|slice(10**9)|list }}", "width"),
    ("{{ range(10)|batch(10**9, 'x')|list }}", "width"),
    ("{{ range(10000)|map('center', 20000)|list|length }}", "output"),
    (DOUBLING, "output"),
    ("{% set a = kund %}" + "{% set a = a + a %}" * 12 + "{{ a }}", "output"),
    ("{% set ns = namespace(s=kund) %}{% for i in range(99) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "output"),
    ("{% for i in range(10000) %}" + "y" * 1900 + "{% endfor %}", "output"),
    ("{% set x %}{% for i in range(10000) %}" + "y" * 1900 + "{% endfor %}{% endset %}", "output"),
    ("{{ '%0999999999d' % 1 }}", "width"),
    ("{{ '%0999999999d'|format(1) }}", "width"),
    ("{{ '%*d' % (999999999, 1) }}", "width"),
    ("{{ '{:0999999999}'.format(1) }}", "width"),
    ("{{ '{:{}}'.format(1, 999999999) }}", "width"),
    (RECURSION, "slow"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "slow"),
    ("{% for x in [1] recursive %}{{ loop([1, 1]) }}{% endfor %}", "slow"),
]


@pytest.mark.parametrize("text, code", COSTLY, ids=[c[0][:40] for c in COSTLY])
def test_a_costly_text_is_stopped_quickly_with_why(text, code):
    started = time.perf_counter()
    result = render_one(text, VALUES)
    assert (result.code, result.text) == (code, None), result
    assert result.problem and result.swedish
    assert time.perf_counter() - started < 2 * LIMITS.seconds + 0.5


@pytest.mark.parametrize("text", [
    "{{ kund.ljust(999999999) }}", "{{ kund.zfill(999999999) }}", "{{ kund.center(999999999) }}",
    "{{ kund.expandtabs(999999999) }}", "{{ ','.join(kund * 10) }}", "{{ (1).to_bytes(999999999, 'big') }}",
    "{{ kund.format_map({}) }}", "{{ lipsum(999999) }}", "{{ cycler(1) }}", "{{ x|tojson(indent=999999) }}",
])
def test_methods_and_globals_that_make_values_of_any_size_are_not_offered(text):
    assert render_one(text, {**VALUES, "x": [1]}).code in ("error", "undefined")


def test_ordinary_filters_methods_and_formats_still_work():
    text = ("{{ kund|upper }} {{ kund|truncate(9) }} {{ '%05d' % dagar_kvar }} {{ '{:>4}'.format(dagar_kvar) }} "
            "{{ rubrik.split()|join('-') }} {{ kund|length }} {% for c in 'ab' %}{{ loop.index }}{{ c }}{% endfor %}"
            " {{ dagar_kvar * 2 ** 10 }} {{ (kund ~ '!')|replace('!', '?') }} {{ 10**300 > 1 }}")
    assert render_one(text, VALUES) == render_one(text, VALUES)
    assert render_one(text, VALUES).text == ("SOLBACKENS VÅRDCENTRAL Solbac... 00014   14 Avtalet-löper-ut 22 1a2b "
                                             "14336 Solbackens vårdcentral? True")


def test_the_output_is_limited_as_it_streams():
    assert render_one("{{ kund }}" * 5, VALUES, Limits(output=110)).ok
    assert render_one("{{ kund }}" * 5, VALUES, Limits(output=109)).code == "output"


def test_compiling_folds_no_constants():
    """Jinja's compiler would compute 9**(9**7) while compiling (so even the import's syntax check
    hung): checked in a child process, so a regression fails on time instead of hanging the suite."""
    code = ("import time\n"
            "from core.templates import _env, template_problems\n"
            "from tests.unit.test_templates import COSTLY\n"
            "worst = 0.0\n"
            "for text, _ in COSTLY:\n"
            "    started = time.perf_counter()\n"
            "    template_problems(text)\n"
            "    _env.from_string(text)\n"
            "    worst = max(worst, time.perf_counter() - started)\n"
            "print(worst)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 0.25


def test_the_import_check_tries_a_render_with_sample_values():
    assert check_template("Hej {{ mottagare }}, {{ dagar_kvar }} dagar kvar.", "reminder") == []
    assert check_template("{{ 9**(9**7) }}", "reminder")[0].startswith("computes a number over 1024 bits")
    assert check_template(NESTED, "reminder")[0].startswith("takes too long to render")
    assert check_template("{{ 'x' * 10**9 }}", "reminder") == ["makes output over 20000 characters"]
    assert check_template("{{ kund.foo }}", "reminder") == ["cannot be rendered ('str object' has no attribute 'foo')"]
    assert check_template("{{ 1 / (dagar_kvar - 366) }}", "reminder") == ["cannot be rendered (division by zero)"]
    # An event's values are not known at import: only cost refuses its text.
    assert check_template("Pass kl {{ händelse.tid }}, {{ händelse.antal + 1 }} st.", "event") == []
    assert check_template("{{ händelse.tid * 10**9 }}", "event") == ["makes output over 20000 characters"]
    assert check_template("{{ namn }}", "event")[0].startswith("uses unknown name(s) namn")


def test_a_group_fails_whole_and_a_tenant_over_its_time_waits():
    ticks = iter(range(1000))
    jobs = [RenderJob("{{ kund }}", VALUES, "g1", "a"), RenderJob(NESTED, VALUES, "g1", "a"),
            RenderJob("{{ kund }}", VALUES, "g1", "a"), RenderJob("{{ kund }}", VALUES, "g2", "b"),
            RenderJob("{{ kund }}", VALUES, "g3", "b")]
    tenants = TenantTime(limit=2)
    results = [r for r, _ in render_batch(jobs, tenants=tenants, clock=lambda: next(ticks))]  # each job: 1 "s"
    assert [r.code for r in results] == ["ok", "slow", "slow", "ok", "ok"]
    assert tenants.spent == {"a": 2, "b": 2} and tenants.exhausted() == {"a", "b"}
    later = [r.code for r, _ in render_batch(jobs[3:], tenants=tenants)]
    assert later == ["deferred", "deferred"]


def test_a_template_rendered_without_a_budget_is_refused():
    from core.templates import _compiled

    with pytest.raises(Exception, match="without a budget"):
        _compiled("{{ kund }}").render(**VALUES)
