"""Everything a request needs at run time, opened once per process from a configuration directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from connectors.base import Connector
from connectors.registry import open_connector
from dsr.config import Estate, load_estate
from dsr.control.db import session_factory
from dsr.keys import Keys
from dsr.subject import Subject
from scanners.engine import LazyAnalyzer
from scanners.matcher import SubjectMatcher


@dataclass
class Runtime:
    estate: Estate
    sessions: sessionmaker[Session]
    keys: Keys
    _connectors: dict[str, Connector] = field(default_factory=dict)

    @classmethod
    def open(cls, config_dir: str | Path, create_keys: bool = False) -> Runtime:
        estate = load_estate(config_dir)
        settings = estate.settings
        keys = Keys.load(
            estate.resolve_path(settings.hmac_key_file),
            estate.resolve_path(settings.signing_key_file),
            estate.resolve_path(settings.keyring_file),
            create=create_keys,
        )
        return cls(estate, session_factory(settings.control_db), keys)

    def matcher(self, subject: Subject) -> SubjectMatcher:
        """The subject matcher for free text and objects; Presidio loads on its first candidate."""
        config = self.estate.scanners
        return SubjectMatcher(subject, LazyAnalyzer(config) if config.presidio else None, config.min_confidence)

    def connector(self, system: str) -> Connector:
        if system not in self._connectors:
            self._connectors[system] = open_connector(self.estate, system)
        return self._connectors[system]

    @property
    def export_dir(self) -> Path:
        return self.estate.resolve_path(self.estate.settings.export_dir)

    @property
    def receipts_dir(self) -> Path:
        return self.estate.resolve_path(self.estate.settings.receipts_dir)

    def close(self) -> None:
        for connector in self._connectors.values():
            connector.close()
        self._connectors.clear()


@cache
def runtime_for(config_dir: str) -> Runtime:
    """One runtime per configuration directory and process (Prefect tasks share it)."""
    return Runtime.open(config_dir)
