"""quant.core.paths: where generated files go, and the cache fingerprint."""

import hashlib
import json

from quant.core import paths


def test_build_dir_is_under_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.build_dir("reports", "x.json").absolute() == tmp_path / "build" / "reports" / "x.json"


def test_build_dir_follows_the_environment_at_each_call(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.ENV, str(tmp_path / "elsewhere"))
    assert paths.build_dir("vectors") == tmp_path / "elsewhere" / "vectors"
    monkeypatch.setenv(paths.ENV, "")
    assert str(paths.build_dir()) == "build"  # empty means unset


def test_fingerprint_keys_on_the_description_and_the_file_bytes(tmp_path):
    f = tmp_path / "src.py"
    f.write_bytes(b"a = 1\n")
    # the same bytes as the caches keyed before this module existed (so they stay valid)
    assert paths.fingerprint(["m", 1]) == hashlib.sha256(json.dumps(["m", 1]).encode()).hexdigest()[:16]
    assert paths.fingerprint(files=[f]) == hashlib.sha256(b"a = 1\n").hexdigest()[:16]
    before = paths.fingerprint({"b": 1, "a": 2}, [f], length=None)
    assert len(before) == 64 and before == paths.fingerprint({"a": 2, "b": 1}, [f], length=None)
    f.write_bytes(b"a = 2\n")
    assert paths.fingerprint({"a": 2, "b": 1}, [f], length=None) != before
