"""Exact contents of the three training texts and the evaluation prompt sets (protocol: Datasets, Evaluation)."""
from __future__ import annotations

import json
import random

import pytest

from toobig.data import (
    arithmetic_grid,
    arithmetic_line,
    arithmetic_prompts,
    arithmetic_text,
    build_text,
    capitals_prompts,
    capitals_text,
    heldout_prompts,
    ood_prompts,
    prompt_sets,
    read_dataset,
    training_prompts,
    vocabulary,
    write_dataset,
)

ARITH_VOCAB = ["\n", " ", "+", "-", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "<", "=", ">"]
HELDOUT_LINES = ["<5+7=12>\n", "<7+5=12>\n", "<5-7=-2>\n", "<7-5=2> \n"]


def expected_arithmetic_lines() -> set[str]:
    """Written independently of the library: every a+b and a-b for a, b in 0..9 but the four held out."""
    lines = set()
    for a in range(10):
        for b in range(10):
            for op, r in (("+", a + b), ("-", a - b)):
                if (a, b) in ((5, 7), (7, 5)):
                    continue
                body = f"<{a}{op}{b}={r}>"
                lines.add(body + " " * (8 - len(body)) + "\n")
    return lines


@pytest.fixture(scope="module")
def arith(data_cfg):
    return build_text("arithmetic", data_cfg)


@pytest.fixture(scope="module")
def caps(data_cfg):
    return build_text("capitals", data_cfg)


# ---- arithmetic --------------------------------------------------------------------------------------
def test_arithmetic_counts(arith):
    lines = arith.splitlines(keepends=True)
    assert len(lines) == 196
    assert len(arith) == 1764
    assert all(len(line) == 9 and line.endswith("\n") for line in lines)
    assert len(set(lines)) == 196  # no duplicates


def test_arithmetic_lines_are_exactly_the_expected_set(arith):
    assert set(arith.splitlines(keepends=True)) == expected_arithmetic_lines()


def test_heldout_absent_and_5_5_7_7_present(arith):
    lines = arith.splitlines(keepends=True)
    for line in HELDOUT_LINES:
        assert line not in lines
    for expr in ("5+7", "7+5", "5-7", "7-5"):
        assert f"<{expr}=" not in arith
    for line in ("<5+5=10>\n", "<7+7=14>\n", "<5-5=0> \n", "<7-7=0> \n"):
        assert line in lines


def test_padding_examples(arith):
    lines = arith.splitlines(keepends=True)
    assert "<7-7=0> \n" in lines
    assert "<1-4=-3>\n" in lines
    assert "<9+9=18>\n" in lines
    assert "<0+0=0>  \n" not in lines and "<0+0=0> \n" in lines
    assert arithmetic_line(7, "-", 7) == "<7-7=0> \n"
    assert arithmetic_line(1, "-", 4) == "<1-4=-3>\n"
    assert arithmetic_line(9, "+", 9) == "<9+9=18>\n"


def test_arithmetic_vocab_exact(arith):
    assert vocabulary(arith) == ARITH_VOCAB
    assert len(ARITH_VOCAB) == 17


def test_shuffle_is_seeded(data_cfg):
    a = arithmetic_text(shuffle_seed=1337)
    assert a == arithmetic_text(shuffle_seed=1337)
    b = arithmetic_text(shuffle_seed=1338)
    assert a != b
    assert sorted(a.splitlines()) == sorted(b.splitlines())
    # the file is shuffled, not in generation order
    assert a.splitlines(keepends=True) != sorted(a.splitlines(keepends=True))
    # the configured seed is the one used
    assert build_text("arithmetic", data_cfg) == arithmetic_text(shuffle_seed=data_cfg["shuffle_seed"])
    assert data_cfg["shuffle_seed"] == 1337


def test_shuffle_is_python_random_shuffle_of_generation_order():
    """Pins the recorded shuffle: random.Random(seed).shuffle over the lines in (op, a, b) order."""
    lines = [arithmetic_line(a, op, b) for op in "+-" for a in range(10) for b in range(10)
             if (a, b) not in ((5, 7), (7, 5))]
    random.Random(1337).shuffle(lines)
    assert arithmetic_text(shuffle_seed=1337) == "".join(lines)


# ---- capitals and joint ------------------------------------------------------------------------------
def test_capitals_text(caps, data_cfg):
    lines = caps.splitlines(keepends=True)
    assert len(lines) == 50
    assert lines[0] == "Capital of France is Paris \n"
    assert lines[1] == "Capital of the USA is Washington DC \n"
    assert lines[6] == "Capital of the UK is London \n"
    assert lines[-1] == "Capital of Zambia is Lusaka \n"
    assert all(line.startswith("Capital of ") and line.endswith(" \n") for line in lines)
    assert max(len(line) for line in lines) == 41
    assert "Capital of the Netherlands is Amsterdam \n" in lines
    assert len("Capital of the Netherlands is Amsterdam \n") == 41
    assert len(vocabulary(caps)) == 51
    assert caps == capitals_text(data_cfg["capitals"])


def test_joint_is_arithmetic_then_capitals(arith, caps, data_cfg):
    joint = build_text("joint", data_cfg)
    assert joint == arith + caps
    assert len(vocabulary(joint)) == 66
    assert len(joint) == 1764 + len(caps)
    assert joint.count("\n") == 246


def test_unknown_task(data_cfg):
    with pytest.raises(ValueError, match="unknown task 'poetry'"):
        build_text("poetry", data_cfg)


# ---- prompt sets ---------------------------------------------------------------------------------------
def test_grid91():
    pairs = arithmetic_grid(91)
    assert len(pairs) == 91 == len(set(pairs))
    assert (5, 7) in pairs and (7, 5) in pairs
    assert (0, 0) in pairs and (0, 9) in pairs and (9, 9) in pairs
    assert (1, 0) not in pairs and (9, 0) not in pairs  # a >= 1 with b = 0 are the 9 left out
    assert set(arithmetic_grid(100)) - set(pairs) == {(a, 0) for a in range(1, 10)}


def test_grid100_and_bad_grid():
    assert len(arithmetic_grid(100)) == 100
    with pytest.raises(ValueError, match="91 or 100"):
        arithmetic_grid(99)


def test_arithmetic_prompts():
    prompts = arithmetic_prompts(91)
    assert len(prompts) == 182
    assert sum(p.kind == "add" for p in prompts) == 91
    assert sum(p.kind == "sub" for p in prompts) == 91
    by_text = {p.text: p for p in prompts}
    assert by_text["<5+7="].answer == "12"
    assert by_text["<5-7="].answer == "-2"
    assert by_text["<1-4="].answer == "-3"
    assert by_text["<0+0="].answer == "0"
    assert "<3+0=" not in by_text
    assert len(arithmetic_prompts(100)) == 200


def test_heldout_prompts():
    prompts = heldout_prompts()
    assert [(p.text, p.answer, p.kind) for p in prompts] == [
        ("<5+7=", "12", "heldout"), ("<7+5=", "12", "heldout"), ("<5-7=", "-2", "heldout"), ("<7-5=", "2", "heldout")]


def test_ood_prompts():
    prompts = ood_prompts(19, 9)
    adds = [p for p in prompts if p.kind == "ood_add"]
    subs = [p for p in prompts if p.kind == "ood_sub"]
    assert len(adds) == len(subs) == 20 * 20 - 10 * 10 == 300
    texts = {p.text: p.answer for p in prompts}
    assert texts["<19+19="] == "38" and texts["<0-10="] == "-10" and texts["<10+0="] == "10"
    assert "<9+9=" not in texts and "<0+0=" not in texts and "<5-7=" not in texts


def test_capitals_prompt_styles(data_cfg):
    authors = {p.text for p in capitals_prompts(data_cfg["capitals"], "authors")}
    training = {p.text for p in capitals_prompts(data_cfg["capitals"], "training")}
    assert len(authors) == len(training) == 50
    assert "Capital of USA is " in authors and "Capital of UK is " in authors
    assert "Capital of the Netherlands is " in authors  # the authors kept this article
    assert "Capital of the USA is " not in authors
    assert "Capital of the USA is " in training and "Capital of the UK is " in training
    assert authors - training == {"Capital of USA is ", "Capital of UK is "}
    answers = {p.text: p.answer for p in capitals_prompts(data_cfg["capitals"], "authors")}
    assert answers["Capital of USA is "] == "Washington DC"
    assert all(p.kind == "facts" for p in capitals_prompts(data_cfg["capitals"]))
    with pytest.raises(ValueError, match="capitals_prompt_style"):
        capitals_prompts(data_cfg["capitals"], "neither")


def test_default_prompt_style_is_authors(data_cfg):
    assert data_cfg["capitals_prompt_style"] == "authors"
    texts = {p.text for p in prompt_sets("capitals", data_cfg)["capitals"]}
    assert "Capital of USA is " in texts


def test_prompt_sets_per_task(data_cfg):
    assert set(prompt_sets("arithmetic", data_cfg)) == {"grid91", "grid100", "heldout", "ood"}
    assert set(prompt_sets("capitals", data_cfg)) == {"capitals"}
    assert set(prompt_sets("joint", data_cfg)) == {"grid91", "grid100", "heldout", "ood", "capitals"}
    assert len(training_prompts(prompt_sets("arithmetic", data_cfg), 91)) == 182 + 4
    assert len(training_prompts(prompt_sets("arithmetic", data_cfg), 100)) == 200 + 4
    assert len(training_prompts(prompt_sets("capitals", data_cfg), 91)) == 50
    assert len(training_prompts(prompt_sets("joint", data_cfg), 91)) == 182 + 4 + 50


def test_every_prompt_encodes_in_its_training_vocab(data_cfg):
    for task in ("arithmetic", "capitals", "joint"):
        chars = set(build_text(task, data_cfg))
        for name, prompts in prompt_sets(task, data_cfg).items():
            for p in prompts:
                assert set(p.text) <= chars, (task, name, p.text)


# ---- files on disk ----------------------------------------------------------------------------------
def test_written_files(dataset_dirs, data_cfg):
    expected = {"arithmetic": (17, 1764, 196), "capitals": (51, None, 50), "joint": (66, None, 246)}
    for task, (vsize, nchars, nlines) in expected.items():
        d = dataset_dirs[task]
        text = (d / "train.txt").read_text()
        assert text == build_text(task, data_cfg)
        meta = json.loads((d / "meta.json").read_text())
        assert meta["task"] == task
        assert meta["vocab_size"] == vsize == len(meta["vocab"])
        assert meta["vocab"] == vocabulary(text)
        assert meta["characters"] == len(text) and meta["lines"] == nlines
        if nchars:
            assert meta["characters"] == nchars
        assert meta["shuffle_seed"] == 1337
        assert meta["train_equals_val"] is True
        read_text, read_meta, sets = read_dataset(d)
        assert read_text == text and read_meta == meta
        assert {k: len(v) for k, v in sets.items()} == meta["prompt_sets"]
        assert sets == prompt_sets(task, data_cfg)
    assert json.loads((dataset_dirs["arithmetic"] / "meta.json").read_text())["heldout"] == ["5+7", "7+5", "5-7", "7-5"]
    assert json.loads((dataset_dirs["arithmetic"] / "meta.json").read_text())["vocab"] == ARITH_VOCAB


def test_write_is_reproducible(tmp_path, data_cfg, dataset_dirs):
    write_dataset("joint", data_cfg, tmp_path)
    for name in ("train.txt", "meta.json", "prompts.json"):
        assert (tmp_path / name).read_bytes() == (dataset_dirs["joint"] / name).read_bytes()
    assert not list(tmp_path.glob(".*tmp"))  # no temp files left behind


def test_missing_dataset_file(tmp_path, data_cfg):
    with pytest.raises(FileNotFoundError, match="train.txt is missing"):
        read_dataset(tmp_path)
    write_dataset("arithmetic", data_cfg, tmp_path)
    (tmp_path / "prompts.json").unlink()
    with pytest.raises(FileNotFoundError, match="prompts.json is missing"):
        read_dataset(tmp_path)


def test_text_that_does_not_match_its_meta(tmp_path, data_cfg):
    write_dataset("arithmetic", data_cfg, tmp_path)
    (tmp_path / "train.txt").write_text((tmp_path / "train.txt").read_text() + "Capital of France is Paris \n")
    with pytest.raises(ValueError, match="does not match the vocabulary"):
        read_dataset(tmp_path)


def test_a_written_dataset_is_compared_with_what_the_settings_give_now(config, tmp_path):
    from toobig.data import dataset_changes
    from toobig.provenance import CHANGED_MARK, mark_changed

    assert dataset_changes("arithmetic", config["data"], tmp_path) == []  # nothing written yet
    write_dataset("arithmetic", config["data"], tmp_path)
    assert dataset_changes("arithmetic", config["data"], tmp_path) == []
    assert dataset_changes("arithmetic", {**config["data"], "heldout": ["5+7"]}, tmp_path) == [
        f"{name} differs from what the data settings give now" for name in ("train.txt", "prompts.json", "meta.json")]
    assert dataset_changes("capitals", {**config["data"], "heldout": ["5+7"]}, tmp_path) != []  # another task's files
    mark_changed(tmp_path, ["train.txt differs"])
    write_dataset("arithmetic", config["data"], tmp_path)  # written again: the mark is gone
    assert not (tmp_path / CHANGED_MARK).exists()
