from __future__ import annotations

from pathlib import Path

import pytest

from postwatch.rules.matching.cache import compile_cache
from postwatch.settings import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.topic("alerts") == "postwatch.alerts"
    assert settings.group == "postwatch-worker"
    assert settings.rules == ()


def test_the_compile_cache_and_correlate_data_are_in_the_users_folders_unless_moved(
    tmp_path: Path,
) -> None:
    assert Settings.from_env({"HOME": "/home/u"}).cache_dir == "/home/u/.cache/postwatch"
    moved = Settings.from_env({"HOME": "/home/u", "XDG_CACHE_HOME": "/var/cache/u"})
    assert moved.cache_dir == "/var/cache/u/postwatch"
    assert moved.correlate_dir == "/home/u/.local/state/postwatch/correlate"
    state = Settings.from_env({"HOME": "/home/u", "XDG_STATE_HOME": "/var/lib/u"})
    assert state.correlate_dir == "/var/lib/u/postwatch/correlate"
    chosen = compile_cache(Settings.from_env({"POSTWATCH_CACHE_DIR": str(tmp_path)}).cache_dir)
    assert chosen is not None
    assert chosen.folder == tmp_path
    assert compile_cache(Settings.from_env({"POSTWATCH_CACHE_DIR": ""}).cache_dir) is None
    config = tmp_path / "postwatch.toml"
    config.write_text('cache_dir = "/srv/packs"\n')
    assert Settings.from_env({"POSTWATCH_CONFIG": str(config)}).cache_dir == "/srv/packs"


def test_environment_overrides_file(tmp_path: Path) -> None:
    config = tmp_path / "postwatch.toml"
    config.write_text(
        'topic_prefix = "fromfile"\nkafka_bootstrap = "file:9092"\nrules = ["a.yaml"]\n'
    )
    settings = Settings.from_env(
        {"POSTWATCH_CONFIG": str(config), "POSTWATCH_KAFKA_BOOTSTRAP": "env:9092", "HOME": "/x"}
    )
    assert settings.topic_prefix == "fromfile"
    assert settings.kafka_bootstrap == "env:9092"
    assert settings.rules == (Path("a.yaml"),)


def test_rules_list_from_environment() -> None:
    settings = Settings.from_env({"POSTWATCH_RULES": "a.yaml:b.yaml,c.yaml"})
    assert settings.rules == (Path("a.yaml"), Path("b.yaml"), Path("c.yaml"))


def test_flood_limits_from_environment() -> None:
    settings = Settings.from_env(
        {"POSTWATCH_FLOOD_ALERTS_PER_MINUTE": "50", "POSTWATCH_FLOOD_LIMITS": "pw-1=5 demo=0"}
    )
    assert settings.flood_alerts_per_minute == 50
    assert settings.flood_limits == (("pw-1", 5), ("demo", 0))
    assert Settings.from_env({}).flood_alerts_per_minute == 1000


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"POSTWATCH_POSTS_PARTITIONS": "zero"}, "POSTWATCH_POSTS_PARTITIONS must be a number"),
        ({"POSTWATCH_POSTS_PARTITIONS": "0"}, "must be a number >= 1 and <= 10000: '0'"),
        ({"POSTWATCH_POSTS_PARTITIONS": "2.5"}, "POSTWATCH_POSTS_PARTITIONS must be a number"),
        ({"POSTWATCH_POSTS_PARTITIONS": "99999999"}, "POSTWATCH_POSTS_PARTITIONS must be"),
        ({"POSTWATCH_FLOOD_LIMITS": "pw-1=\u00b2"}, "POSTWATCH_FLOOD_LIMITS holds ID=N"),
        ({"POSTWATCH_TOPIC_PREFIX": "bad prefix!"}, "POSTWATCH_TOPIC_PREFIX"),
        ({"POSTWATCH_CONFIG": "/nonexistent/postwatch.toml"}, "POSTWATCH_CONFIG"),
        ({"POSTWATCH_FLOOD_ALERTS_PER_MINUTE": "-1"}, "POSTWATCH_FLOOD_ALERTS_PER_MINUTE"),
        ({"POSTWATCH_FLOOD_LIMITS": "pw-1=5 noisy"}, "POSTWATCH_FLOOD_LIMITS holds ID=N"),
        ({"POSTWATCH_FLOOD_LIMITS": "pw-1=many"}, "POSTWATCH_FLOOD_LIMITS holds ID=N"),
        ({"POSTWATCH_LOG_LEVEL": "bogus"}, "POSTWATCH_LOG_LEVEL must be one of debug, info"),
        ({"POSTWATCH_LOG_LEVEL": ""}, "POSTWATCH_LOG_LEVEL must be one of"),
        ({"POSTWATCH_CAMPAIGN_WINDOW_S": "0"}, "POSTWATCH_CAMPAIGN_WINDOW_S must be a number > 0"),
        ({"POSTWATCH_SUCCESSOR_WINDOW_S": "nan"}, "POSTWATCH_SUCCESSOR_WINDOW_S must be"),
        ({"POSTWATCH_ESCALATION_WINDOW_S": "inf"}, "and <= 31622400: 'inf'"),
        ({"POSTWATCH_QUIET_AFTER_S": "1e15"}, "POSTWATCH_QUIET_AFTER_S must be a number >= 0"),
        ({"POSTWATCH_ESCALATION_COUNT": "inf"}, "POSTWATCH_ESCALATION_COUNT must be a number"),
        ({"POSTWATCH_REAPPEARANCE_THRESHOLD": "5"}, "must be a number >= 0 and <= 1: '5'"),
        ({"POSTWATCH_REAPPEARANCE_CONTAINMENT": "nan"}, "POSTWATCH_REAPPEARANCE_CONTAINMENT"),
        ({"POSTWATCH_METRICS_PORT": "70000"}, "POSTWATCH_METRICS_PORT must be a number >= 0"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_unknown_file_keys_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "postwatch.toml"
    config.write_text('kafka_bootstrapp = "x"\n')
    with pytest.raises(SettingsError, match="kafka_bootstrapp"):
        Settings.from_env({"POSTWATCH_CONFIG": str(config)})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff bad = 1\n", "codec can't decode"),
        (b"# " + b"x" * (1 << 20) + b"\n", "larger than 1048576 bytes"),
        (b"campaign_window_s = true\n", "POSTWATCH_CAMPAIGN_WINDOW_S must be a number"),
        (b"posts_partitions = true\n", "POSTWATCH_POSTS_PARTITIONS must be a number"),
        (b"escalation_count = 2.5\n", "POSTWATCH_ESCALATION_COUNT must be a number"),
        (b"ocr_languages = 5\n", "POSTWATCH_OCR_LANGUAGES must be words or a list of strings"),
        (b"forward_to = [1, 2]\n", "POSTWATCH_FORWARD_TO must be words or a list of strings"),
        (b"flood_limits = {a = 1}\n", "POSTWATCH_FLOOD_LIMITS must be words or a list"),
        (b'forward_to = ["https://h/secret", 2]\n', "FORWARD_TO must be words or a list of \\w+$"),
    ],
)
def test_a_settings_file_that_is_no_toml_too_large_or_wrong_is_refused(
    tmp_path: Path, content: bytes, message: str
) -> None:
    config = tmp_path / "postwatch.toml"
    config.write_bytes(content)
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"POSTWATCH_CONFIG": str(config)})


def test_whole_numbers_and_word_lists_in_the_file(tmp_path: Path) -> None:
    config = tmp_path / "postwatch.toml"
    config.write_text('posts_partitions = 8.0\nocr_languages = ["eng", "urd"]\nforward_to = "a"\n')
    settings = Settings.from_env({"POSTWATCH_CONFIG": str(config)})
    assert settings.posts_partitions == 8
    assert settings.ocr_languages == ("eng", "urd")
    assert settings.forward_to == ("a",)


def test_a_rules_list_in_the_file_may_hold_anything_and_gives_paths(tmp_path: Path) -> None:
    config = tmp_path / "postwatch.toml"
    config.write_text("rules = [1, 'a.yaml']\n")
    assert Settings.from_env({"POSTWATCH_CONFIG": str(config)}).rules == (
        Path("1"),
        Path("a.yaml"),
    )


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings.from_env({"POSTWATCH_KAFKA_SASL_PASSWORD": "hunter2"})
    assert "hunter2" not in repr(settings)
