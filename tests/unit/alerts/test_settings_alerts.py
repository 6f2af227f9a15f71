"""The settings of the alerts: suppression window, OCSF topic, metrics, console users,
forwarding."""

from __future__ import annotations

import pytest

from postwatch.settings import Settings, SettingsError


def test_alert_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "POSTWATCH_SUPPRESS_WINDOW_S": "90",
            "POSTWATCH_OCSF_ENABLED": "true",
            "POSTWATCH_METRICS_PORT": "0",
            "POSTWATCH_ALERTS_USERS": "/etc/postwatch/users.toml",
            "POSTWATCH_ALERTS_PROXY_USER_HEADER": "X-Forwarded-Email",
            "POSTWATCH_ALERTS_PROXY_ROLE": "viewer",
            "POSTWATCH_FORWARD_TO": "json:info:http://a/x slack:high:https://hooks/secret",
        }
    )
    assert settings.suppress_window_s == 90.0
    assert settings.ocsf_enabled is True
    assert settings.metrics_port == 0
    assert settings.alerts_users == "/etc/postwatch/users.toml"
    assert settings.alerts_proxy_user_header == "X-Forwarded-Email"
    assert settings.alerts_proxy_role == "viewer"
    assert settings.forward_to == ("json:info:http://a/x", "slack:high:https://hooks/secret")
    # secrets stay out of logs and tracebacks
    assert "secret" not in repr(settings)


def test_defaults_suppress_nothing_and_serve_metrics() -> None:
    settings = Settings.from_env({})
    assert settings.suppress_window_s == 0
    assert settings.ocsf_enabled is False
    assert settings.metrics_port == 9464
    assert settings.alerts_proxy_user_header == ""  # no proxy believed unless told


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUPPRESS_WINDOW_S", "-1"),
        ("SUPPRESS_WINDOW_S", "soon"),
        ("METRICS_PORT", "70000"),
        ("OCSF_ENABLED", "perhaps"),
        ("ALERTS_PROXY_ROLE", "owner"),
    ],
)
def test_bad_values_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"POSTWATCH_{name}"):
        Settings.from_env({f"POSTWATCH_{name}": value})
