use base64::Engine;
use serde_json::json;

use super::*;
use crate::store::StoreOptions;

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn auth(user: &str) -> RegistryAuth {
    RegistryAuth::new(user, format!("{user}-pw"))
}

fn entries(keys: &[&str]) -> Vec<(String, RegistryAuth)> {
    keys.iter().map(|key| (key.to_string(), auth(key))).collect()
}

#[test]
fn keys_apply_by_host_port_and_path_prefix() {
    let cases: [(&str, &str, bool); 12] = [
        ("127.0.0.1:5000", "127.0.0.1:5000/kip/data:1", true),
        ("http://127.0.0.1:5000/", "127.0.0.1:5000/kip/data:1", true),
        ("127.0.0.1", "127.0.0.1:5000/kip/data:1", false),
        ("127.0.0.1:5001", "127.0.0.1:5000/kip/data:1", false),
        ("127.0.0.1:5000/kip", "127.0.0.1:5000/kip/data:1", true),
        ("127.0.0.1:5000/other", "127.0.0.1:5000/kip/data:1", false),
        ("*.example.com", "registry.example.com/app:1", true),
        ("*.example.com", "a.registry.example.com/app:1", false),
        ("https://index.docker.io/v1/", "nginx:1.27", true),
        ("docker.io", "library/nginx", true),
        ("quay.io", "nginx", false),
        ("QUAY.io", "quay.io/eclipse/che:next", true),
    ];
    for (key, image, applies) in cases {
        assert_eq!(matching(&entries(&[key]), image).len(), usize::from(applies), "{key} for {image}");
    }
}

#[test]
fn the_most_specific_key_comes_first() {
    let found = matching(&entries(&["quay.io", "quay.io/eclipse", "quay.io/eclipse/che"]), "quay.io/eclipse/che:next");
    let users: Vec<&str> = found.iter().map(|a| a.username.as_str()).collect();
    assert_eq!(users, ["quay.io/eclipse/che", "quay.io/eclipse", "quay.io"]);
}

#[test]
fn both_secret_types_and_both_credential_forms_are_read() {
    let config = json!({"auths": {
        "r1:5000": {"auth": b64("alice:secret")},
        "r2:5000": {"username": "bob", "password": "hunter2"},
        "r3:5000": {"auth": b64("carol:x"), "username": "ignored", "password": "ignored"},
        "r4:5000": {"email": "nobody@example.com"},
    }});
    let new_style = json!({"type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": b64(&config.to_string())}});
    let mut read = docker_config_entries(&new_style);
    read.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        read,
        vec![
            ("r1:5000".to_string(), RegistryAuth::new("alice", "secret")),
            ("r2:5000".to_string(), RegistryAuth::new("bob", "hunter2")),
            ("r3:5000".to_string(), RegistryAuth::new("carol", "x")),
        ],
        "an entry without credentials is skipped"
    );
    let old_style = json!({"type": "kubernetes.io/dockercfg",
        "stringData": {".dockercfg": json!({"r1:5000": {"auth": b64("dave:pw")}}).to_string()}});
    assert_eq!(docker_config_entries(&old_style), vec![("r1:5000".to_string(), RegistryAuth::new("dave", "pw"))]);
    for broken in [json!({"data": {".dockerconfigjson": "not base64!"}}), json!({"data": {}}), json!({})] {
        assert_eq!(docker_config_entries(&broken), vec![], "{broken}");
    }
}

#[test]
fn secrets_are_read_from_the_pods_namespace_and_missing_ones_skipped() {
    let store = Store::new(StoreOptions::default());
    for namespace in ["kip", "other"] {
        let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
        store.create(&GroupResource::core("namespaces"), object).unwrap();
    }
    for (namespace, name, user) in [("kip", "pull", "right"), ("other", "pull", "wrong")] {
        let config = json!({"auths": {"127.0.0.1:5000": {"auth": b64(&format!("{user}:pw"))}}});
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": b64(&config.to_string())}});
        store.create(&GroupResource::core("secrets"), secret).unwrap();
    }
    let names = ["absent".to_string(), "pull".to_string()];
    let found = credentials_for(&store, "kip", &names, "127.0.0.1:5000/kip/data:1");
    assert_eq!(found, vec![RegistryAuth::new("right", "pw")]);
    assert_eq!(credentials_for(&store, "kip", &names, "127.0.0.1:6000/kip/data:1"), vec![]);
}
