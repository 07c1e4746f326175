//! TEMPORARY interface stub, replaced by the real renderer.
use k8s_openapi::api::apps::v1::DaemonSet;

use crate::config::Config;

pub struct RenderContext {
    pub openshift: bool,
    pub owner_uid: Option<String>,
    pub refresh_token: Option<String>,
}

pub fn desired_daemonset(_cfg: &Config, _ctx: &RenderContext) -> DaemonSet {
    DaemonSet::default()
}
