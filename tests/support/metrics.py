"""Reading ``/metrics`` in tests: the samples of the text exposition, by name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Labels = frozenset[tuple[str, str]]


def samples(text: str) -> dict[tuple[str, Labels], float]:
    """Every sample of an exposition: ``{(sample name, labels): value}``."""
    found: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (sample, have), v in samples(text).items() if sample == name and wanted <= have)


def series(text: str, prefix: str = "marketplace_") -> set[tuple[str, Labels]]:
    """The series whose names start with ``prefix``."""
    return {key for key in samples(text) if key[0].startswith(prefix)}
