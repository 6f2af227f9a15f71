"""`rules publish` of a pack whose bank names a file: the published pack holds the file's
hashes instead, so that every worker loads it without reading a file of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from postwatch.kafka.topics import RULES
from postwatch.rules.language.published import published_versions
from postwatch.settings import Settings
from postwatch.streams.live import read_all
from tests.integration.test_live_rules import publish

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
SHA256 = "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298"
PACK = """
pack: filed
version: 1
banks:
  known: {file: known.txt, pdq_max_distance: 20}
rules:
  - id: known-media
    title: Known media
    severity: high
    match: {hashes: {bank: known}}
"""


def test_a_pack_with_a_bank_file_is_published_with_the_files_hashes(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "known.txt").write_text(f"pdq {PDQ}\nsha256 {SHA256}\n")
    pack = tmp_path / "filed.yaml"
    pack.write_text(PACK)
    done = publish(settings, pack)
    assert done.returncode == 0, done.stderr
    assert "published pack filed v1" in done.stdout
    values = [r.value for r in asyncio.run(read_all(settings, RULES))]
    [record] = published_versions(values)
    bank = yaml.safe_load(record.text)["banks"]["known"]
    assert bank == {"pdq": [PDQ], "sha256": [SHA256], "pdq_max_distance": 20}
    assert len(record.load().banks["known"]) == 2  # as a worker loads it
