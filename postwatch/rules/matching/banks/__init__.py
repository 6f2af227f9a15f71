"""Hash banks: named sets of known media hashes, exact (SHA-256, MD5, SHA-512) and
perceptual (PDQ), loaded from a pack's `banks:` entries and the hash-list files they name.

`spec` checks a `banks:` entry, `formats` reads (and writes) hash-list files, `index` holds
a loaded bank and looks media up in it. Import the names from here.
"""

from postwatch.rules.matching.banks.formats import export_csv, export_plain
from postwatch.rules.matching.banks.index import BankHit, BankSet, HashBank, HashedMedia, load_bank
from postwatch.rules.matching.banks.spec import EXACT_ALGORITHMS, FORMATS, BankSpec, BankSpecError

__all__ = [
    "EXACT_ALGORITHMS",
    "FORMATS",
    "BankHit",
    "BankSet",
    "BankSpec",
    "BankSpecError",
    "HashBank",
    "HashedMedia",
    "export_csv",
    "export_plain",
    "load_bank",
]
