"""Fetching files from Debian packages without installing them: `apt-get download` + `dpkg -x`."""

from __future__ import annotations

import subprocess
from pathlib import Path


class PackageError(RuntimeError):
    pass


def extract_package(package: str, cache: Path) -> Path:
    """Downloads and unpacks `package` under cache/PACKAGE (once); returns that folder."""
    target = cache / package
    done = target / ".extracted"
    if done.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    for stale in cache.glob(f"{package}_*.deb"):
        stale.unlink()
    result = subprocess.run(["apt-get", "download", package], cwd=cache, capture_output=True, text=True)
    if result.returncode != 0:
        raise PackageError(
            f"cannot download the Debian package {package}: {result.stderr.strip()} "
            "(run `apt-get update` first, or leave this source out with --noise-sources)"
        )
    debs = sorted(cache.glob(f"{package}_*.deb"))
    if not debs:
        raise PackageError(f"apt-get download {package} left no .deb in {cache}")
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg", "-x", str(debs[-1]), str(target)], check=True)
    debs[-1].unlink()
    done.write_text(package)
    return target
