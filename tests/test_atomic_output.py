"""Atomic outputs: nothing partial is left, also after a writer was killed outright."""

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cosmodl.io import atomic_output, file_digest, fingerprint

KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from cosmodl.io import atomic_output, open_npy_for_writing
    with atomic_output(sys.argv[1]) as tmp:
        out = open_npy_for_writing(tmp, (64, 64, 64), "float32")
        out[:] = 1.0
        out.flush()
        print("writing", flush=True)
        time.sleep(60)
""")


def test_a_killed_writer_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "images.npy"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)  # as the kernel's OOM killer or `kill -9` would: no cleanup runs
    proc.wait()
    stale = list(tmp_path.glob(".images.tmp-*.npy"))
    assert len(stale) == 1 and not target.exists()
    with atomic_output(target) as tmp:
        np.save(tmp, np.zeros(3))
    assert target.exists() and not list(tmp_path.glob(".images.tmp-*"))


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.npy"
    np.save(target, np.arange(3))
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            np.save(tmp, np.arange(5))
            raise RuntimeError("disk full")
    assert np.load(target).tolist() == [0, 1, 2] and len(list(tmp_path.iterdir())) == 1


def test_other_files_that_look_like_temporaries_are_left_alone(tmp_path):
    (tmp_path / ".images.tmp-notapid.npy").write_text("x")
    (tmp_path / ".other.tmp-123.npy").write_text("x")
    with atomic_output(tmp_path / "images.npy") as tmp:
        np.save(tmp, np.zeros(1))
    assert (tmp_path / ".images.tmp-notapid.npy").exists() and (tmp_path / ".other.tmp-123.npy").exists()


def test_digests_change_with_content_and_fingerprints_with_parts(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 10_000_000)
    (tmp_path / "b").write_bytes(b"x" * 9_999_999 + b"y")
    assert file_digest(tmp_path / "a") != file_digest(tmp_path / "b")
    assert fingerprint({"a": 1, "b": [2]}) == fingerprint({"b": [2], "a": 1}) != fingerprint({"a": 1, "b": [3]})
