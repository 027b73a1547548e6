"""All settings of every lgsp process, in one pydantic-settings model.

Precedence, highest first: explicit overrides (CLI options), `LGSP_*` environment
variables (nested sections with `__`, e.g. `LGSP_ROUTER__MAX_ATTEMPTS=5`), the TOML file
given with `--config`, then the defaults below.
"""

from __future__ import annotations

__all__ = [
    "BUILT_IN_ROUTES",
    "DEFAULT_CLIENT_SECRET",
    "AuthSettings",
    "BrokerSettings",
    "CatalogueEntry",
    "CatalogueSettings",
    "ConsoleSettings",
    "IndexSettings",
    "KafkaSettings",
    "NdxpSettings",
    "RouteRule",
    "RouterSettings",
    "Settings",
    "StubSettings",
    "load_settings",
    "merge_routes",
    "router_group",
]

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.contracts import AgencyCode
from gateway.errors import ConfigError, FieldProblem

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_schemas_dir() -> Path:
    # A source checkout keeps the contracts at the top level; a built wheel bundles them.
    checkout = _REPO_ROOT / "schemas" / "avro"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parent / "_bundled_schemas"


class _Section(BaseModel):
    """A settings section: a misspelt key is an error, never a silent default."""

    model_config = ConfigDict(extra="forbid")


class BrokerSettings(_Section):
    """The project's own KRaft broker or cluster (`lgsp kafka up [--nodes N]`)."""

    kafka_version: str = "3.9.1"
    port: int = Field(default=9092, ge=1, le=65535)
    controller_port: int = Field(default=9093, ge=1, le=65535)
    start_timeout_s: float = Field(default=90.0, gt=0)
    heap: str = "512m"


KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSettings(_Section):
    """How every Kafka client of the gateway, the CLI and replay connects (TLS, SASL)."""

    security_protocol: KafkaProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_file: Path | None = Field(default=None,
                                     description="PEM CA bundle; default: the system's")
    ssl_cert_file: Path | None = Field(default=None, description="PEM client certificate (mTLS)")
    ssl_key_file: Path | None = Field(default=None, description="PEM key of ssl_cert_file")
    ssl_key_password: SecretStr | None = None
    ssl_check_hostname: bool = True
    # Topics the gateway creates (gateway/kafka/_replication.py); existing ones are kept.
    replication_factor: int | None = Field(
        default=None, ge=1, description="replication of the topics the gateway creates; "
        "default: 3 when the cluster has 3 or more brokers, else the broker's default")
    min_insync_replicas: int | None = Field(
        default=None, ge=1, description="min.insync.replicas of those topics; default: a "
        "majority of the replication factor when it is 3 or more, else the broker's")

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        sasl = self.security_protocol.startswith("SASL_")
        tls = self.security_protocol.endswith("SSL")
        if sasl and (not self.sasl_username or self.sasl_password is None):
            raise ValueError(f"security_protocol {self.security_protocol} needs sasl_username "
                             "and sasl_password")
        if not tls and any((self.ssl_ca_file, self.ssl_cert_file, self.ssl_key_file)):
            raise ValueError(f"ssl_* files are given but security_protocol is "
                             f"{self.security_protocol}; use SSL or SASL_SSL")
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            raise ValueError("ssl_cert_file and ssl_key_file go together (mTLS)")
        factor, insync = self.replication_factor, self.min_insync_replicas
        if factor is not None and insync is not None and insync > factor:
            raise ValueError("min_insync_replicas is larger than replication_factor: no "
                             "write could ever succeed")
        return self


class RouteRule(_Section):
    """Maps a message type (and optionally its source system) to a national service."""

    message_type: str
    source_system: str | None = None
    service: str

    @property
    def key(self) -> tuple[str, str | None]:
        """What a rule routes: a later rule with the same key replaces an earlier one."""
        return (self.message_type, self.source_system)


BUILT_IN_ROUTES: tuple[RouteRule, ...] = (
    RouteRule(message_type="ioffice.document", service="QG.VBDT.GUINHAN"),
    RouteRule(message_type="onestop.dossier_event", service="QG.DVCQG.DONGBOHOSO"),
    RouteRule(message_type="reporting.report_submission", service="QG.HTBC.NOPBAOCAO"),
)
"""The built-in connectors' message types and where they go."""


def merge_routes(*layers: Sequence[RouteRule]) -> list[RouteRule]:
    """Routes of several layers, later layers winning per (message type, source system).

    Defaults first (built-in, then plugins'), settings last: a configured route adds to
    or overrides the defaults for its message type instead of replacing the whole table.
    """
    merged: dict[tuple[str, str | None], RouteRule] = {}
    for layer in layers:
        for rule in layer:
            merged[rule.key] = rule
    return list(merged.values())


class BatchSettings(_Section):
    """How transactions for one national service that accepts batches are gathered."""

    enabled: bool = True
    # The stub's and the NDXP draft's ceiling per request is 500 transactions.
    max_items: int = Field(default=500, ge=1, le=500,
                           description="transactions per request at most")
    linger_ms: float = Field(default=20.0, ge=0, le=5_000, description="how long a "
                             "request waits to fill once its first transaction is ready")
    max_requests: int = Field(default=4, ge=1, le=64,
                              description="batch requests in flight per service at once")


class BatchingSettings(_Section):
    """Batched forwarding (`LGSP_ROUTER__BATCHING__*`) to the services the catalogue marks.

    Services that take no batches are sent one request per transaction whatever this says.
    """

    enabled: bool = Field(default=True, description="off: one request per transaction "
                          "to every service")
    defaults: BatchSettings = Field(default_factory=BatchSettings)
    services: dict[str, BatchSettings] = Field(
        default_factory=dict, description="per service code, replacing `defaults` (e.g. "
        "`[router.batching.services.\"QG.DVCQG.DONGBOHOSO\"]` with `max_items = 100`)")

    def for_service(self, code: str) -> BatchSettings | None:
        """The batch settings of a service that accepts batches, or None if not batched."""
        if not self.enabled:
            return None
        chosen = self.services.get(code, self.defaults)
        return chosen if chosen.enabled else None


class RouterSettings(_Section):
    """How the router forwards, retries and protects national services."""

    group_id: str | None = Field(
        default=None, description="consumer group; default: <topic prefix>-router, e.g. lgsp-router"
    )
    max_in_flight: int = Field(default=512, ge=1)
    # Ten attempts: at a 30% transient failure rate, 0.3^10 leaves about one transaction
    # in 170,000 for the dead-letter topic instead of one in 400 with five.
    max_attempts: int = Field(default=10, ge=1)
    backoff_initial_s: float = Field(default=0.2, gt=0)
    backoff_max_s: float = Field(default=5.0, gt=0)
    breaker_failure_threshold: int = Field(default=20, ge=1)
    breaker_reset_s: float = Field(default=5.0, gt=0)
    # A probe that fails doubles the wait before the next one, up to this ceiling.
    breaker_reset_max_s: float = Field(default=60.0, gt=0)
    # While a service is unavailable its transactions are held, not dead-lettered, for at
    # most this long (3 days; hold topics keep records 14 days). Off: an outage longer
    # than the retry budget dead-letters, for a replay by a person.
    hold_enabled: bool = True
    hold_max_s: float = Field(default=3 * 24 * 3600.0, gt=0, le=13 * 24 * 3600.0)
    commit_interval_s: float = Field(default=0.5, gt=0)
    drain_timeout_s: float = Field(default=20.0, ge=0)
    lag_interval_s: float = Field(default=5.0, gt=0)
    # About 200 bytes each: 100,000 is ~20 MiB and half a minute of a full-speed drain,
    # far longer than a webhook sender waits before resending.
    remembered_deliveries: int = Field(
        default=100_000, ge=0,
        description="recent deliveries kept to answer re-published copies without resending",
    )
    batching: BatchingSettings = Field(default_factory=BatchingSettings)
    routes: list[RouteRule] = Field(
        default_factory=list, validate_default=True,
        description="routes added to (or overriding, per message type and source system) the "
        "built-in routes; `lgsp run` adds installed plugins' default routes beneath these",
    )

    @field_validator("routes")
    @classmethod
    def _over_built_in(cls, value: list[RouteRule]) -> list[RouteRule]:
        # Configured routes layer over the built-in ones: a file naming one new message
        # type must not silently drop the routes of the three built-in connectors.
        return merge_routes(BUILT_IN_ROUTES, value)


DEFAULT_CLIENT_SECRET = "change-me"  # noqa: S105 - the documented placeholder, refused by lgsp run


class NdxpSettings(_Section):
    """Where the national data exchange platform (or its stub) is and how we call it."""

    url: str = "http://127.0.0.1:8090"
    client_id: str = "lgsp-province"
    # The default exists so the stub and the gateway match out of the box; `lgsp run`
    # refuses to forward with it (gateway/ndxp/policy.py).
    client_secret: SecretStr = SecretStr(DEFAULT_CLIENT_SECRET)
    ssl_ca_file: Path | None = Field(default=None, description="PEM CA bundle of the "
                                     "national endpoint; default: the system's CAs")
    ssl_cert_file: Path | None = Field(default=None, description="PEM client certificate "
                                       "(mTLS), if the national side asks for one")
    ssl_key_file: Path | None = Field(default=None, description="PEM key of ssl_cert_file")
    ssl_key_password: SecretStr | None = None
    allow_plain_http: bool = Field(
        default=False, description="allow http:// to a host that is not loopback (a "
        "development cluster's stub only; never in production)")
    officer_id: str = "lgsp-gateway"
    request_timeout_s: float = Field(default=10.0, gt=0)
    pool_size: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _pair(self) -> NdxpSettings:
        if (self.ssl_cert_file is None) != (self.ssl_key_file is None):
            raise ValueError("ssl_cert_file and ssl_key_file go together (mTLS)")
        return self


class StubSettings(_Section):
    """The national-exchange stub (`lgsp stub`)."""

    host: str | None = Field(default=None, description="default: the top-level host")
    port: int = Field(default=8090, ge=0, le=65535)
    data_dir: Path | None = Field(default=None, description="default: <state_dir>/stub")
    # NoDecode: the environment gives a comma-separated list, not JSON.
    allow_ips: Annotated[list[str], NoDecode] = Field(default_factory=list,
                                 description="client addresses or networks; empty allows all")
    fsync: bool = True
    token_ttl_s: int = Field(default=3600, ge=1)

    @field_validator("allow_ips", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        # An environment variable gives "10.0.0.0/8,127.0.0.1"; a TOML file gives a list.
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("allow_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # raises ValueError naming the item
        return value


class IndexSettings(_Section):
    """The transaction index (gateway/index/): a queryable projection of the topics."""

    enabled: bool = Field(default=True, description="run the indexer in this gateway process")
    # Secret: a PostgreSQL URL may carry the password (or use PGPASSWORD).
    url: SecretStr | None = Field(
        default=None,
        description="sqlite:///PATH or postgresql://USER@HOST:PORT/DB; "
        "default: sqlite under <state_dir>/index/index.sqlite3",
    )
    group_id: str | None = Field(
        default=None,
        description="the indexer's consumer group; default <prefix>-index for PostgreSQL "
        "(replicas share the work), <prefix>-index-<hostname> for SQLite (one file each)",
    )
    # Larger batches cost less per record (random transaction ids dirty a B-tree page per
    # row), but 10,000 a second raised the gateway's peak RSS draining from ~230 to ~280 MiB.
    batch_size: int = Field(default=2000, ge=1, le=100_000)
    batch_interval_s: float = Field(default=0.25, gt=0)
    health_period_s: int = Field(default=3600, ge=60,
                                 description="the period of GET /services (X-Road: 'last period')")
    catch_up_timeout_s: float = Field(
        default=10.0, ge=0,
        description="how long replay selection waits for the index to reach the topics' "
        "ends before it falls back to scanning the topics",
    )
    pool_size: int = Field(default=4, ge=1, le=100)


class CatalogueEntry(_Section):
    """A national service added to the catalogue (or replacing a listed one by code)."""

    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9._-]{0,63}$",
                      description="service code, e.g. QG.TANSO.CAPPHEP")
    name: str = Field(min_length=1)
    owner_agency_code: AgencyCode
    owner_name: str = ""
    accepts_batch: bool = False


class CatalogueSettings(_Section):
    """The national services NDXP offers: the built-in list plus `services`.

    The gateway warns at start-up about a route to a code not listed here; the stub
    accepts only listed codes, so a newly connected system is tested end to end by adding
    its service here (e.g. `LGSP_CATALOGUE__SERVICES='[{"code": ...}]'`).
    """

    services: list[CatalogueEntry] = Field(default_factory=list)


class AuthSettings(_Section):
    """Who may call the admin API (`LGSP_AUTH__*`); see gateway/auth/ and the README.

    `auto`: local API tokens, plus identity-provider JWTs when `jwks` is set. `tokens`:
    local tokens only. `oidc`: identity-provider JWTs only (`jwks` required). `none`: no
    authentication at all, refused unless the admin API listens on a loopback address.
    """

    mode: Literal["auto", "tokens", "oidc", "none"] = "auto"
    jwks: str | None = Field(default=None, description="JWKS file path or https URL")
    issuer: str | None = Field(default=None, description="required `iss` of identity tokens")
    audience: str | None = Field(default=None, description="`aud` identity tokens must hold")
    roles_claim: str = Field(default="roles", min_length=1,
                             description="claim with the roles; dotted path allowed")
    leeway_s: float = Field(default=30.0, ge=0, le=300,
                            description="clock skew allowed on exp/nbf/iat")
    jwks_refetch_min_s: float = Field(
        default=30.0, ge=0, description="at most one JWKS re-fetch (unknown kid) this often")
    tokens_file: Path | None = Field(default=None,
                                     description="default: <state_dir>/auth/tokens.json")
    audit_key_file: Path | None = Field(
        default=None, description="Ed25519 key signing the audit trail (PEM); default: "
                                  "<state_dir>/audit/signing.key, created on first use")

    @field_validator("jwks")
    @classmethod
    def _jwks_form(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("http://") and not _loopback_url(value):
            raise ValueError("a JWKS URL must be https (http only on a loopback address)")
        return value



class ConsoleSettings(_Section):
    """The web console at `/console` (`LGSP_CONSOLE__*`); see gateway/console/."""

    enabled: bool = Field(default=True, description="serve /console on the admin API port")
    session_ttl_s: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600,
                               description="a signed-in session ends after this long")
    session_key_file: Path | None = Field(
        default=None, description="Fernet key sealing session cookies; default: "
                                  "<state_dir>/console/session.key, created on first use")
    secure_cookie: bool | None = Field(
        default=None, description="mark the session cookie Secure; default: when the "
                                  "request came over TLS (set true behind a TLS proxy)")
    identity_provider_url: str | None = Field(
        default=None, description="where people get a token from the province's identity "
                                  "provider (shown on the sign-in page)")

def _loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


Role = Literal["connectors", "router"]
ALL_ROLES: tuple[Role, ...] = ("connectors", "router")


class ConnectorFilesSettings(_Section):
    """Where file-reading connectors may work (`LGSP_CONNECTOR_FILES__ROOT`).

    A connector config is written by an integrator; which folders the gateway process may
    read, move and write in is the operator's call. watch.dir, processed.dir and
    failed.dir must resolve (symlinks followed) to a folder inside `root`.
    """

    root: Path | None = Field(
        default=None, description="default: the gateway's state_dir (.lgsp)")


class ExpensiveReadSettings(_Section):
    """Traces and replay history scan whole topics: how many may run at once
    (`LGSP_EXPENSIVE_READS__MAX_CONCURRENT`); beyond, 429 with Retry-After."""

    max_concurrent: int = Field(default=4, ge=1, le=1000)
    retry_after_s: int = Field(default=1, ge=1, le=3600)


class Settings(BaseSettings):
    """Every option of every lgsp process; CLI options override these by name."""

    model_config = SettingsConfigDict(
        env_prefix="LGSP_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    bootstrap_servers: str = "127.0.0.1:9092"
    host: str = "127.0.0.1"
    port: int = Field(default=8083, ge=0, le=65535)
    # /metrics also on a port of its own, so a NetworkPolicy can let Prometheus reach
    # metrics and nothing else; None: only on the admin port.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    agency_code: str = "000.00.00.H12"
    topic_prefix: str = "lgsp."
    state_dir: Path = Path(".lgsp")
    cache_dir: Path = Path(".lgsp/cache")
    schemas_dir: Path = Field(default_factory=_default_schemas_dir)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Which parts this process runs. Production runs the connectors once (one replica) and
    # scales the router on lag; a single machine runs both.
    roles: Annotated[list[Role], NoDecode] = Field(
        default_factory=lambda: list(ALL_ROLES), min_length=1
    )
    # Connector secrets at rest (gateway/secrets): the AES-256-GCM key as URL-safe base64
    # (LGSP_SECRETS_KEY), else a key file, created with mode 0600 on first use.
    secrets_key: SecretStr | None = None
    secrets_key_file: Path | None = Field(default=None,
                                          description="default: <state_dir>/secrets.key")
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    router: RouterSettings = Field(default_factory=RouterSettings)
    ndxp: NdxpSettings = Field(default_factory=NdxpSettings)
    stub: StubSettings = Field(default_factory=StubSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    connector_files: ConnectorFilesSettings = Field(default_factory=ConnectorFilesSettings)
    expensive_reads: ExpensiveReadSettings = Field(default_factory=ExpensiveReadSettings)
    catalogue: CatalogueSettings = Field(default_factory=CatalogueSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @field_validator("roles", mode="before")
    @classmethod
    def _split_roles(cls, value: object) -> object:
        # LGSP_ROLES=router or --roles connectors,router
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file))
        return tuple(sources)


def router_group(settings: Settings) -> str:
    """The router's consumer group: explicit, or derived from the topic prefix.

    Derived, so gateways with different prefixes on one cluster never share a group.
    """
    return settings.router.group_id or f"{settings.topic_prefix.rstrip('.')}-router"


def connector_files_root(settings: Settings) -> Path:
    """The resolved folder file-reading connectors are confined to."""
    return (settings.connector_files.root or settings.state_dir).resolve()


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from overrides, environment and an optional TOML file.

    Raises ConfigError naming every invalid field, so callers can print one line.
    """
    cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file {config_file} does not exist")

        class _FromFile(Settings):
            model_config = SettingsConfigDict(toml_file=config_file)

        cls = _FromFile
    explicit = {k: v for k, v in overrides.items() if v is not None}
    try:
        return cls(**explicit)
    except ValidationError as exc:
        raise ConfigError("invalid settings", problems_from(exc)) from exc
    except ValueError as exc:  # a TOML syntax error surfaces as a plain ValueError
        raise ConfigError(f"cannot read config file {config_file}: {exc}") from exc


def problems_from(exc: ValidationError) -> tuple[FieldProblem, ...]:
    """Turn pydantic's validation errors into (field, reason) pairs for one-line messages."""
    return tuple(
        FieldProblem(".".join(str(p) for p in err["loc"]) or "(root)", err["msg"])
        for err in exc.errors()
    )
