"""`postwatch alerts`: decide on an alert, watch alerts in a terminal or a browser, forward them
to webhooks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from postwatch.alerts.users import ROLES
from postwatch.cli.shared import (
    CommandContext,
    count_option,
    media_private,
    pass_context,
    positive_option,
)
from postwatch.rules import Severity
from postwatch.rules.alerts import ALERT_KINDS
from postwatch.rules.decisions import VERDICTS

if TYPE_CHECKING:
    from postwatch.alerts.feed import Start
    from postwatch.alerts.users import Directory, Role
    from postwatch.rules.decisions import Verdict

__all__ = ["alerts"]


@click.group()
def alerts() -> None:
    """Decide on alerts, watch them (terminal, web) and forward them to webhooks."""


def _start(from_beginning: bool, since: str | None) -> Start:
    from postwatch.alerts.filters import BadSince, parse_since  # noqa: PLC0415

    if from_beginning and since:
        raise click.UsageError("--from-beginning and --since exclude each other")
    if from_beginning:
        return "beginning"
    try:
        return parse_since(since) if since else "end"
    except BadSince as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


def _decide(ctx: CommandContext, alert_id: str, verdict: str, user: str | None, note: str) -> None:
    import getpass  # noqa: PLC0415

    from postwatch.alerts import AlertsError  # noqa: PLC0415 - aiokafka
    from postwatch.alerts.decide import decide  # noqa: PLC0415 - aiokafka

    try:
        decided = asyncio.run(
            decide(
                ctx.settings, alert_id, cast("Verdict", verdict), user or getpass.getuser(), note
            )
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    except AlertsError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"alert {alert_id}: {verdict} by {decided.decision.user}")
    if verdict == "confirm":
        if decided.learned is None:
            click.echo("learned nothing: the post is no longer on the posts topic")
        else:
            kinds = ", ".join(e.kind for e in decided.learned) or "nothing (short text, no media)"
            click.echo(f"learned {kinds}")


_NOTE = click.option(
    "--note", default="", help="Why, for the audit trail (at most 2,000 characters)."
)
_USER = click.option("--user", help="Who decides; default: the login name.")


@alerts.command("decide")
@click.argument("alert_id")
@click.argument("verdict", type=click.Choice(VERDICTS))
@_NOTE
@_USER
@pass_context
def alerts_decide(
    ctx: CommandContext, alert_id: str, verdict: str, note: str, user: str | None
) -> None:
    """Record a verdict on an alert on the decisions topic (the audit trail); a later one on
    the same alert supersedes it.

    \b
    confirm         the post's text and media fingerprints are learned by every worker
    false_positive  a hash match's media no longer matches that bank; a look-alike
                    author is cleared for that watched account; a reappearance's
                    learned fingerprint is retired; a rule's alert counts against it
    escalate        the forwarder re-sends the alert one severity higher
    note            a remark, the verdict unchanged
    """
    if verdict == "note" and not note:
        raise click.UsageError("a note needs --note TEXT")
    _decide(ctx, alert_id, verdict, user, note)


@alerts.command("confirm")
@click.argument("alert_id")
@_NOTE
@_USER
@pass_context
def alerts_confirm(ctx: CommandContext, alert_id: str, note: str, user: str | None) -> None:
    """Confirm an alert (`alerts decide ALERT_ID confirm`): its post's text fingerprint and
    media hashes are learned by every worker, and later posts near them raise
    `reappearance` alerts."""
    _decide(ctx, alert_id, "confirm", user, note)


@alerts.command("tail")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest alert kept.")
@click.option("--since", help="Start that long ago (30s, 15m, 2h, 1d) or at a timestamp.")
@click.option(
    "--min-severity",
    type=click.Choice([severity.label for severity in Severity]),
    default=Severity.INFO.label,
    show_default=True,
)
@click.option("--rule", "rule_ids", multiple=True, help="Only this rule id (repeatable).")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Alert v1 JSON lines, e.g. for jq.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many alerts.")
@pass_context
def alerts_tail(
    ctx: CommandContext,
    *,
    from_beginning: bool,
    since: str | None,
    min_severity: str,
    rule_ids: tuple[str, ...],
    sources: tuple[str, ...],
    as_json: bool,
    limit: int | None,
) -> None:
    """Show alerts as they arrive (from now unless told otherwise), until Ctrl-C."""
    from postwatch.alerts import AlertsError  # noqa: PLC0415
    from postwatch.alerts.filters import AlertFilter  # noqa: PLC0415
    from postwatch.alerts.running import run_until_stopped  # noqa: PLC0415
    from postwatch.alerts.tail import tail  # noqa: PLC0415

    keep = AlertFilter(Severity[min_severity.upper()], frozenset(rule_ids), frozenset(sources))
    start = _start(from_beginning, since)
    try:
        run_until_stopped(tail(ctx.settings, start, keep, as_json=as_json, limit=limit))
    except AlertsError as exc:
        raise click.ClickException(str(exc)) from exc


@alerts.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port."
)
@click.option(
    "--secure-cookie",
    is_flag=True,
    help="Mark the session cookie Secure always (served over HTTPS by a proxy, e.g.).",
)
@click.option(
    "--trust-proxy",
    is_flag=True,
    help="Believe the proxy in front: X-Forwarded-Proto: https makes the cookie Secure. "
    "Only behind a proxy that sets that header itself.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Serve rule quality for Prometheus on this port (default 0: off).",
)
@media_private
@pass_context
def alerts_serve(
    ctx: CommandContext,
    *,
    host: str,
    port: int,
    secure_cookie: bool,
    trust_proxy: bool,
    metrics_port: int,
    media_private: bool,
) -> None:
    """Serve the review console: the queue of alerts, undecided first, their context, and
    verdicts given with one key (see docs/review.md).

    Its users are those of POSTWATCH_ALERTS_USERS (a file `alerts users add` writes; a user
    opens http://HOST:PORT/?token=TOKEN once), and, with POSTWATCH_ALERTS_PROXY_USER_HEADER,
    those a single sign-on proxy in front names. Served over HTTPS (by a proxy in front),
    give --secure-cookie or --trust-proxy.
    """
    from postwatch.alerts.serve import Access, run_server  # noqa: PLC0415 - aiokafka
    from postwatch.alerts.users import Sessions  # noqa: PLC0415

    settings = ctx.settings
    if not settings.alerts_users and not settings.alerts_proxy_user_header:
        raise click.UsageError(
            "the console has no users: set POSTWATCH_ALERTS_USERS to a users file (make one "
            "with `postwatch alerts users add NAME --role viewer --file FILE`; it replaces "
            "POSTWATCH_ALERTS_TOKEN), or POSTWATCH_ALERTS_PROXY_USER_HEADER (docs/review.md)"
        )
    directory = _directory(settings.alerts_users) if settings.alerts_users else None
    access = Access(
        directory,
        Sessions(),
        proxy_header=settings.alerts_proxy_user_header,
        proxy_role=cast("Role", settings.alerts_proxy_role) or None,
        secure_cookie=secure_cookie,
        trust_proxy=trust_proxy,
    )
    run_server(
        settings,
        access,
        host=host,
        port=port,
        metrics_port=metrics_port,
        media_private=media_private,
    )


def _directory(path: str) -> Directory:
    from postwatch.alerts.users import Directory, UsersError  # noqa: PLC0415

    try:
        return Directory(Path(path))
    except UsersError as exc:
        raise click.ClickException(str(exc)) from exc


@alerts.group("users")
def alerts_users() -> None:
    """The users of the review console: names, roles and hashed tokens in a users file."""


_USERS_FILE = click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The users file; default POSTWATCH_ALERTS_USERS.",
)


def _users_file(ctx: CommandContext, path: Path | None) -> Path:
    if path is not None:
        return path
    if not ctx.settings.alerts_users:
        raise click.UsageError("name the users file: --file FILE or POSTWATCH_ALERTS_USERS")
    return Path(ctx.settings.alerts_users)


@alerts_users.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    required=True,
    help="viewer reads; reviewer also decides; admin also sees the users.",
)
@_USERS_FILE
@click.option("--replace", is_flag=True, help="Give a user who exists a new role and token.")
@click.option(
    "--proxy-only",
    is_flag=True,
    help="No token: the user signs in through the single sign-on proxy only.",
)
@pass_context
def alerts_users_add(
    ctx: CommandContext,
    name: str,
    *,
    role: str,
    path: Path | None,
    replace: bool,
    proxy_only: bool,
) -> None:
    """Add a user and print their token, this once: the file keeps only its hash. A running
    console reads the file again within a second."""
    from postwatch.alerts.users import UsersError, add_user  # noqa: PLC0415

    target = _users_file(ctx, path)
    try:
        token = add_user(target, name, cast("Role", role), token=not proxy_only, replace=replace)
    except UsersError as exc:
        raise click.ClickException(str(exc)) from exc
    if token:
        click.echo(token)
        click.echo(f"{name} ({role}) added to {target}; the token is not shown again", err=True)
    else:
        click.echo(f"{name} ({role}) added to {target}, to sign in through the proxy", err=True)


@alerts_users.command("remove")
@click.argument("name")
@_USERS_FILE
@pass_context
def alerts_users_remove(ctx: CommandContext, name: str, path: Path | None) -> None:
    """Remove a user: their sessions end at their next request."""
    from postwatch.alerts.users import UsersError, remove_user  # noqa: PLC0415

    target = _users_file(ctx, path)
    try:
        remove_user(target, name)
    except UsersError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{name} removed from {target}", err=True)


@alerts.command("forward")
@click.option(
    "--to",
    "specs",
    multiple=True,
    help="KIND:MIN_SEVERITY:URL, KIND json or slack (repeatable); default "
    "POSTWATCH_FORWARD_TO, better for a URL that holds a secret (a Slack webhook's, say): "
    "the process list does not show it.",
)
@count_option("--attempts", "Tries in all to deliver one alert.", 5)
@click.option("--backoff", type=click.FloatRange(min=0), default=0.5, show_default=True)
@positive_option("--timeout", "Seconds one delivery may take.", 10.0)
@click.option("--from-beginning", is_flag=True, help="A new forwarder starts at the oldest alert.")
@click.option("--include-shadow", is_flag=True, help="Forward alerts of shadow rules too.")
@pass_context
def alerts_forward(
    ctx: CommandContext,
    *,
    specs: tuple[str, ...],
    attempts: int,
    backoff: float,
    timeout: float,
    from_beginning: bool,
    include_shadow: bool,
) -> None:
    """Deliver alerts to webhooks; failed deliveries go to the dead-letter topic.

    Each alert goes to every destination whose minimum severity it reaches, retried up to
    ATTEMPTS times with exponential backoff from BACKOFF seconds. The forwarder resumes
    where it stopped (consumer group <prefix>-forward); a new one starts with the next alert.
    """
    from postwatch.alerts import BadDestination  # noqa: PLC0415
    from postwatch.alerts.forward import Destination, RetryPolicy, forward  # noqa: PLC0415
    from postwatch.alerts.running import run_until_stopped  # noqa: PLC0415

    settings = ctx.settings
    try:
        destinations = [Destination.parse(spec) for spec in specs or settings.forward_to]
    except BadDestination as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from exc
    if not destinations:
        raise click.UsageError("no destinations: pass --to KIND:MIN_SEVERITY:URL")
    policy = RetryPolicy(attempts=attempts, backoff_s=backoff, timeout_s=timeout)
    start: Start = "beginning" if from_beginning else "end"
    run_until_stopped(forward(settings, destinations, policy, start, include_shadow=include_shadow))


@alerts.command("search")
@click.option("--author", help="Only alerts on posts of this author id.")
@click.option("--rule", help="Only alerts of this rule id.")
@click.option("--hash", "media_hash", help="Only alerts whose evidence holds this media hash.")
@click.option(
    "--verdict",
    type=click.Choice([v for v in VERDICTS if v != "note"] + ["undecided"]),
    help="Only alerts with this verdict (their latest), or none yet.",
)
@click.option("--since", help="Only alerts raised since then (30s, 15m, 2h, 1d, a timestamp).")
@click.option(
    "--min-severity",
    type=click.Choice([severity.label for severity in Severity]),
    help="Only alerts of this severity or above.",
)
@click.option("--source", help="Only alerts on posts from this source (mastodon, bluesky, ...).")
@click.option("--kind", type=click.Choice(ALERT_KINDS), help="Only alerts of this kind.")
@click.option("--domain", help="Only alerts on a post at, or linking to, this domain or below.")
@click.option(
    "--fingerprint",
    help="Only reappearance alerts of this learned fingerprint or original post id.",
)
@count_option("--limit", "Alerts shown at most, newest first.", 100)
@click.option("--json", "as_json", is_flag=True, help="Alert v1 JSON lines with the verdict.")
@pass_context
def alerts_search(
    ctx: CommandContext,
    *,
    author: str | None,
    rule: str | None,
    media_hash: str | None,
    verdict: str | None,
    since: str | None,
    min_severity: str | None,
    source: str | None,
    kind: str | None,
    domain: str | None,
    fingerprint: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Search the alerts on the alerts topic, with their verdicts from the decisions topic,
    newest first (the alert store, rebuilt from both topics first)."""
    import orjson  # noqa: PLC0415

    from postwatch.alerts.store import Query  # noqa: PLC0415 - aiokafka
    from postwatch.cli.store import rebuilt_store, since_option, stored_line  # noqa: PLC0415

    query = Query(
        author=author,
        rule=rule,
        hash=media_hash,
        verdict=cast("Verdict | None", verdict),
        since=since_option(since),
        min_severity=Severity[min_severity.upper()] if min_severity else None,
        source=source,
        kind=kind,
        domain=domain,
        fingerprint=fingerprint,
        limit=limit,
    )
    store = rebuilt_store(ctx.settings)
    try:
        found = store.search(query)
    finally:
        store.close()
    for stored in found:
        click.echo(orjson.dumps(stored.document()) if as_json else stored_line(stored))
