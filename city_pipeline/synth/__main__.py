"""Regenerate the bundled recordings: `python -m city_pipeline.synth [--city SLUG ...]`.

Seeded: the same code writes the same bytes, so `git diff data/recordings` after a run shows only
real changes. Recordings of a source whose module has no generator are left untouched.
"""

from __future__ import annotations

import argparse
import importlib
import random
import shutil
import zlib
from pathlib import Path

from city_pipeline.http import RecordingStore
from city_pipeline.settings import (
    CITIES_DIR,
    SOURCE_NAMES,
    ConfigError,
    city_files,
    load_settings,
)
from city_pipeline.synth import write_recordings


def generate_city(config_path, *, scale: int = 1, recordings_root=None) -> dict[str, int]:
    env = {"CITY_PIPELINE_CONFIG": str(config_path)}
    if recordings_root is not None:
        env["CITY_PIPELINE_RECORDINGS_DIR"] = str(recordings_root)
    settings = load_settings(env)
    written = {}
    for source in SOURCE_NAMES:
        try:
            module = importlib.import_module(f"city_pipeline.synth.{source}")
        except ModuleNotFoundError:
            continue
        directory = settings.recordings_dir / source
        shutil.rmtree(directory, ignore_errors=True)
        # One seed per (city, source): adding a source never changes another source's bytes.
        rng = random.Random(zlib.crc32(f"{settings.city.slug}/{source}".encode()))
        written[source] = write_recordings(
            RecordingStore(directory, source), module.recordings(settings, rng, scale)
        )
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--city",
        action="append",
        help="city slug, or the path of a city YAML (default: every shipped city)",
    )
    parser.add_argument(
        "--recordings-dir", help="write <dir>/<slug>/ instead of data/recordings/<slug>/"
    )
    args = parser.parse_args()
    try:
        shipped = city_files()  # also refuses two shipped files with one slug
        paths = [
            Path(c) if c.endswith((".yaml", ".yml")) else shipped.get(c, CITIES_DIR / f"{c}.yaml")
            for c in args.city or sorted(shipped)
        ]
        for path in paths:
            counts = generate_city(path, recordings_root=args.recordings_dir)
            print(f"{path.stem}: " + ", ".join(f"{s}={n}" for s, n in counts.items()))
    except ConfigError as exc:
        raise SystemExit(f"city_pipeline.synth: {exc}") from None


if __name__ == "__main__":
    main()
