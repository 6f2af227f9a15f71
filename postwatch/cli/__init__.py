"""The one entry point: `postwatch COMMAND`. Run `postwatch --help` for the commands.

One module a group of commands: `rules` (and `quality`: rules stats); `match` (match, hash);
`connect`; `alerts`; `cases`; `run` (worker, enrich, correlate, bench, demo, schema).
`shared` holds what they share: the settings, read when a command first needs them, and
compiled rule packs; `store`, what the commands on the alert store share. Commands parse
options, call the library, print, and map its errors to exit statuses; what they decide is
decided in the library.
"""

from __future__ import annotations

import click

from postwatch.cli.alerts import alerts
from postwatch.cli.cases import cases
from postwatch.cli.connect import connect
from postwatch.cli.match import hash_files, match
from postwatch.cli.quality import rules_stats
from postwatch.cli.rules import rules
from postwatch.cli.run import bench, correlate, demo, enrich, schema, worker
from postwatch.logs import configure_logging

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="postwatch")
def main() -> None:
    """postwatch: public posts in, rule matches out as alerts, on Kafka.

    Settings come from POSTWATCH_* environment variables (POSTWATCH_KAFKA_BOOTSTRAP,
    POSTWATCH_TOPIC_PREFIX, POSTWATCH_RULES, ...) and the TOML file named by
    POSTWATCH_CONFIG.
    """
    configure_logging()


for _command in (
    alerts,
    bench,
    cases,
    connect,
    correlate,
    demo,
    enrich,
    hash_files,
    match,
    rules,
    schema,
    worker,
):
    main.add_command(_command)
rules.add_command(rules_stats)
