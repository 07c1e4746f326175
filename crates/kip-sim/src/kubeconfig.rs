//! The kubeconfig that points kube-rs and kubectl at a running simulator: a plain-HTTP
//! cluster, a user without credentials (the simulator does not authenticate), and a context
//! whose namespace is `default`.

use std::path::Path;

/// The name of the cluster, user and context in the kubeconfig.
pub const CONTEXT: &str = "kip-sim";

/// A kubeconfig for the API server at `server_url` (e.g. `http://127.0.0.1:41234`).
pub fn kubeconfig_yaml(server_url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: {server_url}
users:
- name: {CONTEXT}
  user: {{}}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {CONTEXT}
    namespace: default
current-context: {CONTEXT}
preferences: {{}}
"
    )
}

/// Writes the kubeconfig to `path`, creating or replacing the file.
pub fn write_kubeconfig(path: &Path, server_url: &str) -> std::io::Result<()> {
    std::fs::write(path, kubeconfig_yaml(server_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_rs_reads_the_kubeconfig() {
        let yaml = kubeconfig_yaml("http://127.0.0.1:4321");
        let config = kube::config::Kubeconfig::from_yaml(&yaml).expect("kube-rs parses it");
        assert_eq!(config.current_context.as_deref(), Some(CONTEXT));
        let cluster = config.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("http://127.0.0.1:4321"));
        let context = config.contexts[0].context.as_ref().expect("context");
        assert_eq!(context.namespace.as_deref(), Some("default"));
        assert_eq!(context.user.as_deref(), Some(CONTEXT));
    }
}
