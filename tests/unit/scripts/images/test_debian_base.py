"""scripts/images/debian_base.py: the Debian mirror comes from apt's own sources (both file
formats), never from a host written into the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from debian_base import (
    AptSource,
    NoDebianMirror,
    apt_sources,
    debian_mirror,
    parse_deb822,
    parse_one_line,
    release_codename,
)

DEB822 = """\
Types: deb
# a snapshot comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
"""


def test_deb822_stanzas() -> None:
    assert parse_deb822(DEB822) == [
        AptSource("http://mirror.example/debian", ("bookworm", "bookworm-updates")),
        AptSource("http://mirror.example/debian-security", ("bookworm-security",)),
    ]


def test_deb822_disabled_stanza_is_skipped() -> None:
    text = "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n"
    assert parse_deb822(text) == []


def test_one_line_format_with_options_and_comments() -> None:
    text = (
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main # why\n"
        "deb http://two.example/debian-security bookworm-security main\n"
    )
    assert parse_one_line(text) == [
        AptSource("http://one.example/debian", ("bookworm",)),
        AptSource("http://two.example/debian-security", ("bookworm-security",)),
    ]


def test_the_mirror_is_the_one_serving_the_release_itself() -> None:
    sources = [
        AptSource("http://sec.example/debian-security", ("bookworm-security",)),
        AptSource("cdrom:[Debian]/", ("bookworm",)),
        AptSource("https://mirror.example/debian/", ("bookworm", "bookworm-updates")),
    ]
    assert debian_mirror(sources, "bookworm") == "https://mirror.example/debian"


def test_no_mirror_for_the_release_is_a_clear_error() -> None:
    sources = [AptSource("http://sec.example/debian-security", ("bookworm-security",))]
    with pytest.raises(NoDebianMirror, match="DEBIAN_MIRROR"):
        debian_mirror(sources, "bookworm")


def test_apt_sources_reads_both_files_in_apts_order(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb http://first.example/debian trixie main\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "node.sources.disabled").write_text(DEB822)
    found = apt_sources(tmp_path)
    assert [s.uri for s in found] == [
        "http://first.example/debian",
        "http://mirror.example/debian",
        "http://mirror.example/debian-security",
    ]


def test_release_codename(tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text('PRETTY_NAME="Debian GNU/Linux 12"\nVERSION_CODENAME=bookworm\n')
    assert release_codename(os_release) == "bookworm"
    assert release_codename(tmp_path / "absent") == ""
