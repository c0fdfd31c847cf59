"""The tier-settings convention: `SETTINGS` in a paper's experiment.py maps every tier its
claims.toml declares to a frozen dataclass of that tier's sizes."""

from __future__ import annotations

import dataclasses

from papers.harness import registry


def settings_problems(slug: str, settings) -> list[str]:
    """What is wrong with a paper's SETTINGS against the tiers its claims.toml declares."""
    info = registry.info(slug)
    if not isinstance(settings, dict):
        return [f"{slug}: experiment.SETTINGS must be a dict of tier -> frozen dataclass"]
    found = []
    missing = sorted(set(info.tiers) - set(settings) - {"paper"})
    extra = sorted(set(settings) - set(info.tiers))
    if missing:
        found.append(f"{slug}: experiment.SETTINGS has no entry for tier(s) {', '.join(missing)}")
    if extra:
        found.append(
            f"{slug}: experiment.SETTINGS has tier(s) {', '.join(extra)} that claims.toml does not declare"
        )
    for tier, value in settings.items():
        params = getattr(type(value), "__dataclass_params__", None)
        if not dataclasses.is_dataclass(value) or isinstance(value, type) or not params.frozen:
            found.append(f"{slug}: experiment.SETTINGS[{tier!r}] must be a frozen dataclass instance")
    return found


def tier_settings(slug: str) -> tuple[dict, str | None]:
    """A paper's SETTINGS (imports its experiment module), and a problem line or None."""
    try:
        module = registry.experiment(slug)
    except Exception as exc:  # a paper that does not import is reported, not raised
        return {}, f"experiment.py does not import: {type(exc).__name__}: {exc}"
    settings = getattr(module, "SETTINGS", None)
    if settings is None:
        return {}, "experiment.py defines no SETTINGS"
    problems = settings_problems(slug, settings)
    return (settings if isinstance(settings, dict) else {}), ("; ".join(problems) or None)
