"""The light ``neurolatent_cli`` parser: fast --help, per-model theory parameters, usage errors."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

import neurolatent_cli
from neurolatent_cli import main
from neurolatent_cli.theory import ALIASES, MODELS, REQUIRED

REPO = Path(__file__).resolve().parents[1]


def _run(*argv, code: str | None = None):
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "neurolatent_cli", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


@pytest.mark.parametrize("argv", [["--help"], ["fit", "--help"], ["theory", "dmft", "--help"],
                                  ["fit", "x", "--max-steps", "-3"], ["theory", "dmft", "--g", "2"]])
def test_help_and_usage_errors_import_no_heavy_module(argv):
    # the parser, --help and argument errors must not load torch, gpytorch or xarray (2+ s of imports)
    code = ("import sys\nfrom neurolatent_cli import main\n"
            "try:\n    rc = main(%r)\nexcept SystemExit as e:\n    rc = e.code\n"
            "heavy = sorted(m for m in ('torch', 'gpytorch', 'xarray', 'neurolatent') if m in sys.modules)\n"
            "print('HEAVY', heavy, 'RC', rc)\n") % (argv,)
    res = _run(code=code)
    assert "HEAVY [] RC" in res.stdout, res.stdout + res.stderr


def test_console_entry_point_is_the_light_package():
    text = (REPO / "pyproject.toml").read_text()
    assert 'neurolatent = "neurolatent_cli:main"' in text


def test_python_m_neurolatent_cli_help_lists_commands():
    res = _run("--help")
    assert res.returncode == 0
    for command in ("info", "convert", "fit", "demo", "theory"):
        assert command in res.stdout


def test_theory_tables_match_the_model_dataclasses():
    from neurolatent.theory.models import _NAMES

    for name, cls in _NAMES.items():
        table = MODELS[ALIASES.get(name, name)]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        assert list(table) == list(fields), name
        for pname, (default, text) in table.items():
            f = fields[pname]
            if f.default is dataclasses.MISSING:
                assert default is REQUIRED, (name, pname)
            else:
                assert default == f.default, (name, pname)
            assert text  # every parameter has help text


def test_dataset_names_match_the_registry():
    from neurolatent.datasets import DATASETS

    assert sorted(neurolatent_cli.DATASETS) == sorted(DATASETS)


def test_early_stopping_defaults_in_help_match_the_class():
    from neurolatent.inference import EarlyStopping

    es = EarlyStopping()
    assert neurolatent_cli.EARLY_STOPPING_DEFAULTS == {"patience": es.patience, "rel_tol": es.rel_tol}


def test_theory_help_shows_each_parameter_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["theory", "dmft", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--g-h" in out and "gated: gain of the activation" in out and "required" in out
    assert "--tau-h" in out and "default 1.0" in out


@pytest.mark.parametrize("argv, expected", [
    (["theory", "dmft", "--model", "vanilla", "--g", "2", "--g-h", "50"],
     "--g-h is not a parameter of --model vanilla"),
    (["theory", "dmft", "--g", "2"], "--g is not a parameter of --model gated (the default model)"),
    (["theory", "dmft", "--model", "gated"], "--model gated needs --g-h"),
    (["theory", "lyapunov", "--model", "gru", "--g-z", "two"], "--g-z expects a number"),
    (["theory", "phase-diagram", "--model", "gated", "--g-h", "1:3"], "start:stop:num"),
])
def test_theory_parameter_errors_are_one_line(argv, expected, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and err.count("\n") == 1


def test_dmft_rejects_maps(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["theory", "dmft", "--model", "gru"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["fit", "rec.nc", "--manifold", "T1", "--manifold", "R1", "--folds", "1"], "--folds >= 2"),
    (["fit", "rec.nc", "--manifold", "T1", "--manifold", "T1"], "given twice"),
    (["fit"], "either a recording path or --dataset"),
    (["fit", "rec.nc", "--dataset", "demo-ring"], "either a recording path or --dataset"),
    (["fit", "--dataset", "demo-ring", "--fs", "30"], "--fs applies to recordings read from files"),
    (["fit", "rec.nc", "--no-early-stopping", "--patience", "5"], "--no-early-stopping"),
])
def test_fit_usage_errors_before_any_work(argv, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv + ["--out", str(tmp_path / "out")]) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [["fit", "x", "--max-steps", "0"], ["fit", "x", "--lr", "-1"],
                                  ["fit", "x", "--likelihood", "cauchy"], ["fit", "--dataset", "nope"],
                                  ["fit", "x", "--bin-s", "0"]])
def test_fit_bad_values_are_argparse_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_fit_takes_several_recordings_and_a_variable():
    from neurolatent_cli import build_parser, check_args

    args = build_parser().parse_args(["fit", "a/light.nc", "b/dark.nc", "--variable", "RROIaveMax"])
    check_args(args)
    assert args.recordings == ["a/light.nc", "b/dark.nc"] and args.recording == "a/light.nc"
    assert args.variable == "RROIaveMax"
    args = build_parser().parse_args(["fit", "one.nc"])
    check_args(args)
    assert args.recordings == ["one.nc"] and args.recording == "one.nc" and args.variable is None
