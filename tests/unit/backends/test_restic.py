"""restic 0.14 exits 1 for nearly everything: what its stderr says decides what a person reads."""

import pytest

from drillbook.backends.restic import Fault, classify, missing_pack


@pytest.mark.parametrize("stderr,kind", [
    ("Fatal: wrong password or no key found\n", Fault.WRONG_PASSWORD),
    ("Fatal: unable to open config file: stat /x/config: no such file or directory\n"
     "Is there a repository at the following location?\n/x\n", Fault.REPOSITORY_NOT_FOUND),
    ('invalid id "deadbeef": no matching ID found for prefix "deadbeef"\n', Fault.SNAPSHOT_NOT_FOUND),
    ("ignoring error for /data/big: ciphertext verification failed\nFatal: There were 1 errors\n", Fault.CORRUPT_DATA),
    ("Fatal: unable to open config file: Stat: Get \"http://127.0.0.1:9/b/config\": dial tcp "
     "127.0.0.1:9: connect: connection refused\n", Fault.UNREACHABLE),
    ("Fatal: unable to open config file: Stat: Access Denied.\n", Fault.ACCESS_DENIED),
    ("something nobody has seen before\n", Fault.UNKNOWN),
])
def test_classify(stderr, kind):
    assert classify(stderr, 1)[0] == kind


def test_unknown_errors_keep_restic_last_words():
    assert classify("first\nFatal: odd thing\n", 1)[1] == "restic failed (exit 1): Fatal: odd thing"


def test_a_missing_pack_retry_is_final_but_other_retries_are_not():

    local = ("Load(<data/dd1a560dd0>, 3153836, 0) returned error, retrying after 552ms: open "
             "r2/data/dd/dd1a560dd01a: no such file or directory")
    s3 = "Load(<data/0a1b2c3d4e>, 17, 0) returned error, retrying after 1s: The specified key does not exist."
    flaky = "Load(<data/0a1b2c3d4e>, 17, 0) returned error, retrying after 1s: connection reset by peer"
    assert "pack data/dd1a560dd0" in missing_pack(local)
    assert "pack data/0a1b2c3d4e" in missing_pack(s3)
    assert missing_pack(flaky) is None
    assert missing_pack("Load(<index/abc>) returned error, retrying: no such file or directory") is None


def test_corruption_names_the_affected_files():
    stderr = ("ignoring error for /srv/a.txt: ciphertext verification failed\n"
              "ignoring error for /srv/b.txt: ciphertext verification failed\n"
              "ignoring error for /srv/a.txt: ciphertext verification failed\nFatal: There were 3 errors\n")
    kind, text = classify(stderr, 1)
    assert kind == Fault.CORRUPT_DATA and text.endswith("; affected: /srv/a.txt, /srv/b.txt")
