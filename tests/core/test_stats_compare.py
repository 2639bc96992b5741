"""Paired DeLong comparison (core.stats.compare) and ``layertune stats compare``.

Reference values: pROC's own test suite (tests/testthat, ``roc.test`` on its aSAH data;
Robin et al., BMC Bioinformatics 12:77, 2011), as quoted in the test file
``engine/tests/test_methodcomp_extras.py`` of github.com/erenozen/opendose (commit
f73f9f0). The data, ``tests/data/asah.csv``, is pROC's ``aSAH`` table (Turck et al.,
Intensive Care Medicine 36(1):107-115, 2010; 113 patients): outcome, wfns, s100b, ndka
as embedded in that same file, plus ``label`` = 1 for a poor outcome. Its AUCs reproduce
pROC's (wfns 0.823678861788618).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from core.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE, main
from core.stats import delong_test
from core.stats.compare import PairedAuc, paired_delong

ASAH = Path(__file__).resolve().parents[1] / "data" / "asah.csv"


@pytest.fixture(scope="module")
def asah():
    rows = list(csv.DictReader(ASAH.open()))
    cols = {k: np.array([float(r[k]) for r in rows]) for k in ("wfns", "s100b", "ndka")}
    return cols, np.array([int(r["label"]) for r in rows])


def test_asah_table_is_procs(asah):
    cols, y = asah
    assert y.size == 113 and y.sum() == 41
    r = paired_delong(cols["wfns"], cols["ndka"], y)
    assert r.auc_a == pytest.approx(0.823678861788618, rel=1e-12)
    assert r.auc_b == pytest.approx(0.611957994579946, rel=1e-12)


@pytest.mark.parametrize("a,b,z,p,lo,hi", [
    ("wfns", "s100b", 2.20898359144091, 0.0271757822291882,
     0.0104061769564846, 0.174214419249478),
    ("wfns", "ndka", 2.79777591868904, 0.00514557970691098,
     0.0634011709339876, 0.3600405634833566),
    ("ndka", "s100b", -1.39077002573558, 0.164295175223054,
     -0.2876917446341914, 0.0488706064228094),
])
def test_matches_proc_roc_test(asah, a, b, z, p, lo, hi):
    cols, y = asah
    r = paired_delong(cols[a], cols[b], y)
    assert r.z == pytest.approx(z, rel=1e-10)
    assert r.p == pytest.approx(p, rel=1e-10)
    assert r.diff_ci == pytest.approx((lo, hi), rel=1e-9)
    assert r.diff == pytest.approx(r.auc_a - r.auc_b)
    assert (r.z, r.p) == pytest.approx(delong_test(cols[a], cols[b], y), rel=1e-12)
    assert r.significant == (p < 0.05)


def test_symmetric(asah):
    cols, y = asah
    ab = paired_delong(cols["wfns"], cols["s100b"], y)
    ba = paired_delong(cols["s100b"], cols["wfns"], y)
    assert ba.diff == pytest.approx(-ab.diff) and ba.z == pytest.approx(-ab.z)
    assert ba.p == pytest.approx(ab.p) and ba.se == pytest.approx(ab.se)
    assert ba.diff_ci == pytest.approx((-ab.diff_ci[1], -ab.diff_ci[0]))


def test_identical_models_give_zero(asah):
    cols, y = asah
    r = paired_delong(cols["s100b"], cols["s100b"].copy(), y)
    assert (r.diff, r.z, r.p, r.se) == (0.0, 0.0, 1.0, 0.0)
    assert r.diff_ci == (0.0, 0.0)
    # a monotone transform ranks the cases identically: same AUC, same components
    r = paired_delong(cols["s100b"], np.log(cols["s100b"] + 1), y)
    assert r.z == 0.0 and r.p == 1.0


def test_against_brute_force_delong():
    """Structural components by explicit O(m n) loops (DeLong et al. 1988, §3)."""
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(25, int), np.zeros(35, int)]
    a = y * 1.0 + rng.normal(0, 1, y.size)
    b = 0.5 * a + rng.normal(0, 1, y.size)
    b[:5] = b[30:35]  # some ties across classes

    def psi(x, w):
        return 1.0 if x > w else (0.5 if x == w else 0.0)

    comps = []
    for s in (a, b):
        p, n = s[y == 1], s[y == 0]
        comps.append((np.array([np.mean([psi(x, w) for w in n]) for x in p]),
                      np.array([np.mean([psi(x, w) for x in p]) for w in n])))
    s10 = np.cov([comps[0][0], comps[1][0]])
    s01 = np.cov([comps[0][1], comps[1][1]])
    cov = s10 / 25 + s01 / 35
    d = comps[0][0].mean() - comps[1][0].mean()
    se = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    r = paired_delong(a, b, y, alpha=0.1)
    assert r.diff == pytest.approx(d, rel=1e-12) and r.se == pytest.approx(se, rel=1e-10)
    assert r.diff_ci == pytest.approx((d - 1.6448536269514722 * se, d + 1.6448536269514722 * se))


def test_noninferiority_p_agrees_with_the_ci(asah):
    cols, y = asah
    r = paired_delong(cols["s100b"], cols["wfns"], y)  # s100b worse by 0.092
    for margin in (0.0, 0.05, 0.1, 0.18, 0.2, 0.3):
        assert (r.noninferiority_p(margin) < 0.025) == (r.diff_ci[0] > -margin)
    assert r.noninferiority_p(0.0) == pytest.approx(1 - r.p / 2)
    with pytest.raises(ValueError, match="margin"):
        r.noninferiority_p(-0.1)


def test_bad_input():
    with pytest.raises(ValueError, match="scores_b has 3 values"):
        paired_delong([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="at least 2 positive"):
        paired_delong([0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0, 0, 1])
    with pytest.raises(ValueError, match="alpha"):
        paired_delong([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1], alpha=1.5)


def test_to_dict_round_trips_through_json(asah):
    cols, y = asah
    d = json.loads(json.dumps(paired_delong(cols["wfns"], cols["s100b"], y).to_dict()))
    assert d["z"] == pytest.approx(2.20898359144091) and len(d["diff_ci"]) == 2
    assert PairedAuc(**{k: v for k, v in d.items() if k not in ("test",)} |
                     {"diff_ci": tuple(d["diff_ci"])}).significant


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_stats_compare(capsys, tmp_path):
    rc, out, _ = run(capsys, "stats", "compare", "--scores", str(ASAH), "--columns",
                     "wfns,s100b", "--json")
    assert rc == EXIT_OK
    d = json.loads(out)
    assert d["columns"] == ["wfns", "s100b"]
    assert d["z"] == pytest.approx(2.20898359144091, rel=1e-10)
    assert d["p"] == pytest.approx(0.0271757822291882, rel=1e-10)
    assert d["diff_ci"] == pytest.approx([0.0104061769564846, 0.174214419249478], rel=1e-9)
    rc, out, _ = run(capsys, "stats", "compare", "--scores", str(ASAH), "--columns",
                     "S100B,WFNS", "--label-column", "LABEL")
    assert rc == EXIT_OK
    assert "Z = -2.2090" in out and "95 % CI" in out and "differ significantly" in out


def test_cli_stats_compare_bad_input(capsys, tmp_path):
    rc, _, err = run(capsys, "stats", "compare", "--scores", str(ASAH), "--columns", "wfns")
    assert rc == EXIT_USAGE and "two column names" in err
    rc, _, err = run(capsys, "stats", "compare", "--scores", str(ASAH), "--columns",
                     "wfns,nope")
    assert rc == EXIT_INPUT and "'nope'" in err
    rc, _, err = run(capsys, "stats", "compare", "--scores", str(ASAH), "--columns",
                     "wfns,s100b", "--label-column", "outcome")
    assert rc == EXIT_INPUT and "asah.csv:2" in err and "0 or 1" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n0.1,0.2,1\n0.3,x,0\n")
    rc, _, err = run(capsys, "stats", "compare", "--scores", str(bad), "--columns", "a,b")
    assert rc == EXIT_INPUT and "bad.csv:3" in err and "'x'" in err
