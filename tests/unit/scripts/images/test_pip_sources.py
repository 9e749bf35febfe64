"""scripts/images/pip_sources.py: this machine's pip sources as `pip config list` shows them,
the build args that hand them to the inference image's build and the directories to mount."""

from __future__ import annotations

from pathlib import Path

from pip_sources import PipSources, local_path, machine_pip_sources, parse_config_list


def test_the_environment_wins_over_the_config_files() -> None:
    listed = (
        "global.cert='/etc/ssl/certs/ca-certificates.crt'\n"
        "global.extra-index-url='file:///srv/pypi/simple https://mirror.example/simple'\n"
        "global.find-links='/srv/old-wheels'\n"
        ":env:.find-links='/srv/wheels'\n"
        ":env:.default-timeout='180'\n"
    )
    sources = parse_config_list(listed)
    assert sources.find_links == ("/srv/wheels",)
    assert sources.extra_index_urls == ("file:///srv/pypi/simple", "https://mirror.example/simple")
    assert sources.build_args() == {
        "PIP_FIND_LINKS": "/srv/wheels",
        "PIP_EXTRA_INDEX_URL": "file:///srv/pypi/simple https://mirror.example/simple",
    }


def test_no_sources_give_empty_build_args() -> None:
    sources = parse_config_list("global.cert='/etc/ssl/certs/ca-certificates.crt'\n")
    assert sources == PipSources()
    assert sources.build_args() == {"PIP_FIND_LINKS": "", "PIP_EXTRA_INDEX_URL": ""}
    assert sources.mounts() == []


def test_local_paths_and_remote_urls() -> None:
    assert local_path("/srv/wheels") == Path("/srv/wheels")
    assert local_path("file:///srv/my%20pypi/simple") == Path("/srv/my pypi/simple")
    assert local_path("https://download.pytorch.org/whl/cpu") is None
    assert local_path("wheels") is None  # relative to wherever pip runs: not mountable


def test_mounts_are_the_local_dirs_an_index_from_its_parent(tmp_path: Path) -> None:
    wheels, index = tmp_path / "wheels", tmp_path / "pypi" / "simple"
    wheels.mkdir()
    index.mkdir(parents=True)
    sources = PipSources(
        find_links=(str(wheels), str(tmp_path / "absent")),
        extra_index_urls=(index.as_uri(), "https://mirror.example/simple", index.as_uri()),
    )
    # The index's pages link its files as ../../files/...: its parent goes in whole.
    assert sources.mounts() == [wheels, tmp_path / "pypi"]


def test_this_machines_pip_is_read() -> None:
    sources = machine_pip_sources()
    assert isinstance(sources.find_links, tuple) and isinstance(sources.extra_index_urls, tuple)
    assert all(path.is_dir() for path in sources.mounts())
