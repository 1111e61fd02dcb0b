"""The user's own data: data.dataset npz / csv, checked in one line each, trained on end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from nnlab.build import build_data
from nnlab.cli.main import cli
from nnlab.config import dump_config, load_config
from nnlab.data import load_dataset
from nnlab.errors import UserError


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def blobs(n: int = 120, d: int = 6, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` well-separated Gaussian blobs in ``d`` dimensions: float features, labels 0..k-1."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centres = 4.0 * np.eye(k, d)
    return centres[y] + rng.normal(scale=0.5, size=(n, d)), y


def config(tmp_path: Path, data: dict, sizes=(6, 8, 3), **model) -> Path:
    cfg = {
        "model": {"sizes": list(sizes), "output": "softmax", "cost": "log_likelihood", **model},
        "optimizer": {"name": "sgd", "learning_rate": 0.5},
        "training": {"epochs": 3, "batch_size": 10},
        "instruments": {"probe_size": 30},
        "output": {"runs_dir": str(tmp_path / "runs")},
        "data": data,
    }
    if "layers" in model:
        del cfg["model"]["sizes"]
    f = tmp_path / "own.yaml"
    f.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return f


@pytest.fixture
def npz(tmp_path) -> Path:
    X, y = blobs()
    path = tmp_path / "blobs.npz"
    np.savez(path, X_train=X[:80], y_train=y[:80], X_validation=X[80:100], y_validation=y[80:100],
             X_test=X[100:], y_test=y[100:])  # fmt: skip
    return path


# -- reading -----------------------------------------------------------------------------


def test_npz_parts_are_read_as_given_and_float_values_used_as_they_are(npz, tmp_path):
    X, y = blobs()
    ds = load_dataset("npz", data_dir=npz)
    assert (len(ds.train), len(ds.validation), len(ds.test), ds.n_classes) == (80, 20, 20, 3)
    assert np.array_equal(ds.test.X, X[100:]) and np.array_equal(ds.train.y, y[:80])
    data = build_data(load_config(config(tmp_path, {"dataset": "npz", "path": str(npz)})))
    assert data.X_validation.dtype == np.float32
    assert np.array_equal(data.X_validation, X[80:100].astype(np.float32))  # no pixel_scale on floats


def test_uint8_images_keep_their_shape_and_are_scaled_like_mnist(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, size=(40, 1, 5, 4), dtype=np.uint8)
    path = tmp_path / "imgs.npz"
    np.savez(path, x_train=X, y_train=np.arange(40) % 2)  # Keras' lower-case x_ names are read too
    ds = load_dataset("npz", data_dir=path, options={"validation_fraction": 0.25, "test_fraction": 0.25})
    assert ds.image == (1, 5, 4) and ds.train.X.shape == (20, 20)
    f = config(tmp_path, {"dataset": "npz", "path": str(path), "pixel_scale": 255}, sizes=(20, 4, 2))
    data = build_data(load_config(f))
    rows = np.concatenate([data.X_train, data.X_validation, data.X_test]) * 255
    assert np.allclose(np.sort(rows, axis=0), np.sort(X.reshape(40, 20).astype(np.float32), axis=0), atol=1e-4)


def test_missing_parts_are_carved_at_random_by_the_seed_and_partition_the_examples(tmp_path):
    X, y = blobs(n=50)
    path = tmp_path / "train-only.npz"
    np.savez(path, X_train=X, y_train=y)
    one = load_dataset("npz", data_dir=path, options={"seed": 7, "validation_fraction": 0.2})
    assert (len(one.train), len(one.validation), len(one.test)) == (35, 10, 5)  # test: 0.1 by default
    rows = np.concatenate([one.train.X, one.validation.X, one.test.X])
    assert sorted(map(tuple, rows)) == sorted(map(tuple, X))  # every example exactly once
    again = load_dataset("npz", data_dir=path, options={"seed": 7, "validation_fraction": 0.2})
    other = load_dataset("npz", data_dir=path, options={"seed": 8, "validation_fraction": 0.2})
    assert np.array_equal(one.validation.X, again.validation.X)
    assert not np.array_equal(one.validation.X, other.validation.X)
    assert "validation = 10 random training examples" in one.source


def test_csv_label_column_anywhere_separate_files_and_raw_pixels(tmp_path):
    def write(name, rows):
        path = tmp_path / name
        path.write_text("p0,p1,digit,p2\n" + "".join(f"{a},{b},{c},{d}\n" for a, b, c, d in rows))
        return path

    train = write("train.csv", [(0, 255, 1, 10), (51, 0, 0, 20), (255, 255, 1, 0), (0, 0, 0, 5)])
    test = write("test.csv", [(255, 0, 0, 0)])
    options = {"label_column": "digit", "test_path": str(test), "validation_fraction": 0.25}
    ds = load_dataset("csv", data_dir=train, options=options)
    assert ds.n_classes == 2 and ds.train.X.dtype == np.uint8  # whole numbers 0..255: pixels
    assert ds.test.X.tolist() == [[255, 0, 0]] and ds.test.y.tolist() == [0]
    floats = write("floats.csv", [(0.5, 1, 1, 2), (3, 1, 0, 2), (0, 0, 1, 1), (1, 2, 0, 300)])
    ds = load_dataset("csv", data_dir=floats, options={"label_column": "digit"} | {"validation_fraction": 0.25,
                                                                                   "test_fraction": 0.25})  # fmt: skip
    assert ds.train.X.dtype == np.float64  # not pixels: used as they are


def test_a_config_dumps_as_before_unless_it_sets_an_own_data_key(npz, tmp_path):
    assert "label_column" not in dump_config(load_config({"data": {"dataset": "mnist-mini"}}))
    cfg = load_config(config(tmp_path, {"dataset": "npz", "path": str(npz)}))
    assert "seed" not in dump_config(cfg).split("data:")[1]
    cfg = load_config(config(tmp_path, {"dataset": "npz", "path": str(npz), "seed": 3}))
    assert load_config(yaml.safe_load(dump_config(cfg))).data.seed == 3


# -- bad data: one line, exit 2 ---------------------------------------------------------------


def arrays(X, y, **more) -> dict:
    return {"X_train": X, "y_train": y, **more}


X6, Y6 = blobs(n=30)
BAD = {
    "nan": (arrays(np.where(np.arange(180).reshape(30, 6) == 19, np.nan, X6), Y6),
            "X_train holds nan (example 3); every value of X must be a finite number"),
    "inf": (arrays(X6, Y6, X_test=np.full((2, 6), -np.inf), y_test=Y6[:2]),
            "X_test holds -inf (example 0); every value of X must be a finite number"),
    "negative-label": (arrays(X6, Y6 - 1),
                       "y_train labels are -1, 0, 1; the classes must be 0..n-1 (n >= 2), each with a training example"),
    "gap": (arrays(X6, Y6 * 2),
            "y_train labels are 0, 2, 4; the classes must be 0..n-1 (n >= 2), each with a training example"),
    "fraction-label": (arrays(X6, Y6 + 0.5), "y_train holds 0.5; labels must be whole numbers 0..n-1 (n classes)"),
    "test-label": (arrays(X6, Y6, X_test=X6[:3], y_test=np.array([0, 3, 1])),
                   "y_test holds label 3; the training labels are 0..2"),
    "lengths": (arrays(X6, Y6[:29]),
                "y_train has 29 labels for the 30 examples of X_train; give one label per example"),
    "empty": (arrays(X6, Y6, X_validation=X6[:0], y_validation=Y6[:0]),
              "X_validation has no examples; every part needs at least one"),
    "shapes": (arrays(X6, Y6, X_test=X6[:, :5], y_test=Y6),
               "X_test has examples of shape (5,); X_train's are (6,), all must match"),
    "missing-key": ({"X_train": X6}, "has no array y_train (the training examples are required); it holds X_train"),
    "half-part": (arrays(X6, Y6, X_test=X6),
                  "has no array y_test (X_test needs it); it holds X_train, y_train, X_test"),
    "unknown-key": (arrays(X6, Y6, X_val=X6),
                    "holds an array 'X_val' nnlab does not read; the arrays are X_train, y_train, X_validation,"
                    " y_validation, X_test, y_test"),
    "objects": (arrays(np.array([None] * 30, dtype=object), Y6),
                "holds an array of Python objects; only arrays of numbers are read (never pickles)"),
    "strings": (arrays(np.array(["a"] * 30), Y6),
                "X_train holds <U1 values; X must hold numbers (uint8 pixels, integers or floats)"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_npz_is_one_line_naming_the_file_and_exit_2(tmp_path, case):
    contents, message = BAD[case]
    path = tmp_path / "bad.npz"
    np.savez(path, **contents)
    f = config(tmp_path, {"dataset": "npz", "path": str(path)})
    result = invoke("validate", str(f))
    assert result.exit_code == 2, result.output
    assert result.output == f"error: {f}: data.path: {path}: {message}\n"
    assert not (tmp_path / "runs").exists()


def test_files_that_are_missing_or_not_npz_or_not_csv(tmp_path):
    f = config(tmp_path, {"dataset": "npz", "path": str(tmp_path / "nope.npz")})
    assert invoke("train", str(f)).output == f"error: {f}: data.path: {tmp_path / 'nope.npz'}: no such file\n"
    text = tmp_path / "table.csv"
    text.write_text("label,a\n1,2\n")
    f = config(tmp_path, {"dataset": "npz", "path": str(text)})
    assert invoke("train", str(f)).output == (
        f"error: {f}: data.path: {text}: not an npz file; data.dataset npz reads arrays saved with numpy.savez"
        " (a zip of .npy files)\n"
    )
    binary = tmp_path / "data.bin"
    binary.write_bytes(bytes(range(256)))
    f = config(tmp_path, {"dataset": "csv", "path": str(binary)})
    result = invoke("train", str(f))
    assert result.exit_code == 2
    assert result.output == (
        f"error: {f}: data.path: {binary}: not a CSV file (not UTF-8 text); data.dataset csv reads a header row"
        " and rows of numbers\n"
    )


def test_bad_csv_cells_and_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("label,a,b\n0,1,2\n1,x,3\n")
    with pytest.raises(UserError) as err:
        load_dataset("csv", data_dir=path)
    assert str(err.value).startswith(f"{path}: could not convert string 'x' to float64 at row 1, column 2")
    assert str(err.value).endswith("; every row needs one number per column of the header")
    with pytest.raises(UserError) as err:
        load_dataset("csv", data_dir=path, options={"label_column": "class"})
    assert str(err.value) == f"{path}: has no column 'class' (data.label_column); its columns: label, a, b"


def test_keys_that_do_not_apply_are_refused(npz, tmp_path):
    result = invoke("validate", str(config(tmp_path, {"dataset": "mnist-mini", "seed": 1}, sizes=(784, 10))))
    assert result.output.endswith("data.seed: is for data.dataset npz or csv (your own data), not mnist-mini\n")
    result = invoke("validate", str(config(tmp_path, {"dataset": "npz", "path": str(npz), "label_column": "y"})))
    assert result.output.endswith("data.label_column: is for data.dataset csv only (npz has y_ arrays)\n")
    result = invoke("validate", str(config(tmp_path, {"dataset": "npz"})))
    assert result.output.endswith("data.path: missing; data.dataset npz needs the file: data.path: FILE.npz\n")
    result = invoke("validate", str(config(tmp_path, {"dataset": "npz", "path": str(npz), "test_fraction": 0.2})))
    assert result.output.endswith(
        f"data.path: {npz}: data.test_fraction is set but the data has its own test part;"
        " leave data.test_fraction out (it only carves a part the data does not hold)\n"
    )


# -- the network against the data ------------------------------------------------------------


def test_the_network_is_checked_against_the_data_with_the_key_path(npz, tmp_path):
    f = config(tmp_path, {"dataset": "npz", "path": str(npz)}, sizes=(784, 30, 10))
    result = invoke("validate", str(f))
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"error: {f}: model.sizes[0]: got 784; must be 6 (the values of one example in blobs.npz)",
        f"error: {f}: model.sizes[2]: got 10; must be 3 (the classes of blobs.npz)",
    ]


def test_an_image_net_is_checked_against_the_images_shape(tmp_path):
    X = np.random.default_rng(2).integers(0, 256, size=(60, 1, 6, 6), dtype=np.uint8)
    path = tmp_path / "imgs.npz"
    np.savez(path, X_train=X, y_train=np.arange(60) % 3)
    conv = [{"kind": "conv2d", "filters": 2, "kernel": 3}, {"kind": "maxpool2d", "size": 2}]
    f = config(tmp_path, {"dataset": "npz", "path": str(path)}, layers=[*conv, {"kind": "dense", "units": 3}],
               input=[1, 4, 9])  # fmt: skip
    result = invoke("validate", str(f))
    assert (
        result.output
        == f"error: {f}: model.input: got [1, 4, 9]; the images of imgs.npz are [1, 6, 6] (channels, height, width)\n"
    )
    f = config(tmp_path, {"dataset": "npz", "path": str(path)}, layers=[*conv, {"kind": "dense", "units": 10}])
    result = invoke("validate", str(f))
    assert result.output == f"error: {f}: model.layers[2].units: got 10; must be 3 (the classes)\n"


# -- end to end ----------------------------------------------------------------------------------


def test_train_on_npz_learns_the_blobs_and_reports_on_the_run(npz, tmp_path):
    result = invoke("train", str(config(tmp_path, {"dataset": "npz", "path": str(npz)})), "--plain")
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final"]["test_accuracy"] > 0.9  # three blobs 8 sigma apart: a chance net scores 1/3
    assert (run / "gradients.csv").is_file() and (run / "weights-best.npz").is_file()
    report = invoke("report", str(run), "--format", "json")
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)  # the run reads like any other
    plot = invoke("plot", str(run))
    assert plot.exit_code == 0, plot.output
    assert (run / "plots" / "speed_of_learning.png").is_file()


def test_a_conv_net_trains_on_image_shaped_npz(tmp_path):
    rng = np.random.default_rng(3)
    y = np.arange(90) % 2
    X = rng.integers(0, 60, size=(90, 1, 6, 6)).astype(np.uint8)
    X[y == 1, :, :, :3] += 190  # class 1: a bright left half
    path = tmp_path / "halves.npz"
    np.savez(path, X_train=X, y_train=y)
    layers = [{"kind": "conv2d", "filters": 2, "kernel": 3}, {"kind": "maxpool2d", "size": 2},
              {"kind": "dense", "units": 2}]  # fmt: skip
    result = invoke("train", str(config(tmp_path, {"dataset": "npz", "path": str(path)}, layers=layers)))
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").iterdir())
    assert json.loads((run / "summary.json").read_text())["final"]["test_accuracy"] > 0.8
    assert (run / "gradients.csv").read_text().splitlines()[1].endswith(",conv1")  # the instruments see the conv layer


def test_a_two_member_sweep_on_npz(npz, tmp_path):
    base = config(tmp_path, {"dataset": "npz", "path": str(npz)})
    spec = tmp_path / "act.yaml"
    spec.write_text(f"base: {base}\ngrid: {{model.activation: [sigmoid, relu]}}\n", encoding="utf-8")
    result = invoke("sweep", str(spec), "--jobs", "2", "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    sweep = next((tmp_path / "runs" / "sweeps").iterdir())
    members = [p for p in (sweep / "members").iterdir() if (p / "summary.json").is_file()]
    assert len(members) == 2
    assert invoke("report", str(sweep)).exit_code == 0


def test_csv_problems_name_the_file_they_are_in(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("\ufefflabel,a\n0,0.5\n1,1.5\n0,2.5\n1,3.5\n")  # a byte-order mark, as Excel writes
    empty = tmp_path / "empty.csv"
    empty.write_text("label,a\n")
    with pytest.raises(UserError) as err:
        load_dataset("csv", data_dir=empty)
    assert str(err.value) == f"{empty}: X_train has no examples; every part needs at least one"
    test = tmp_path / "test.csv"
    test.write_text("label,a\n0,1.0\n2,2.0\n")
    with pytest.raises(UserError) as err:
        load_dataset("csv", data_dir=train, options={"test_path": str(test), "validation_fraction": 0.25})
    assert str(err.value) == f"{test}: y_test holds label 2; the training labels are 0..1"
    with pytest.raises(UserError) as err:
        load_dataset("csv", data_dir=train, options={"validation_path": str(tmp_path / "nope.csv")})
    assert str(err.value) == f"{tmp_path / 'nope.csv'}: no such file (data.validation_path)"


def test_data_info_describes_an_own_file(npz, tmp_path):
    result = invoke("data", "info", str(npz))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{npz}: data.dataset npz, {npz}",
        "  parts: 80 train, 20 validation, 20 test examples",
        "  one example: a vector of 6 (6 inputs); values: numbers used as they are",
        "  classes: 3 (training examples per class: 27, 27, 26)",
        "  a dense net for it: model.sizes: [6, ..., 3]",
    ]
    bad = tmp_path / "bad.npz"
    np.savez(bad, X_train=X6)
    result = invoke("data", "info", str(bad))
    assert (result.exit_code, result.output) == (
        2,
        f"error: {bad}: has no array y_train (the training examples are required); it holds X_train\n",
    )
