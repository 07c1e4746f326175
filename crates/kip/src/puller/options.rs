//! The command-line options of `kip run` (the configuration itself comes from the environment).

use std::net::SocketAddr;
use std::time::Duration;

use crate::telemetry::logging::LogFormat;

/// Options of `kip run` (the configuration itself comes from the environment).
#[derive(Clone, Debug, clap::Args)]
pub struct RunOptions {
    /// Address of the health and metrics endpoints.
    #[arg(long, env = "KIP_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// Log format.
    #[arg(long, env = "KIP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Elect a leader through a Lease, so that only one replica writes.
    #[arg(long, env = "KIP_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Name of the leader Lease (default: `kip-` and the DaemonSet name).
    #[arg(long, env = "KIP_LEASE_NAME")]
    pub lease_name: Option<String>,
    /// How long a leader's lease lasts without renewal.
    #[arg(long, env = "KIP_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// How often the leader renews its lease (and a standby checks it).
    #[arg(long, env = "KIP_LEASE_RENEW", default_value = "5s", value_parser = parse_duration)]
    pub lease_renew: Duration,
    /// This replica's identity in the lease (the pod name in a cluster).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Watch this ConfigMap (in NAMESPACE) and apply changes to it without a restart.
    #[arg(long, env = "KIP_CONFIG_MAP")]
    pub config_map: Option<String>,
    /// Refresh interval replacing CACHING_INTERVAL_HOURS, e.g. `90s` (for demos and tests).
    #[arg(long, env = "KIP_REFRESH_INTERVAL", value_parser = parse_duration, hide = true)]
    pub refresh_interval: Option<Duration>,
}

/// Parses `15s`, `500ms`, `2m`, `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration =
        text.parse().map_err(|e| format!("{text:?} is not a duration such as 15s, 500ms or 1h30m: {e}"))?;
    Duration::try_from(signed).map_err(|_| format!("{text:?} must not be negative"))
}
