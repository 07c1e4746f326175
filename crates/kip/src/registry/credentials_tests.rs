use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

const PASSWORD: &str = "s3cr3t-Pa55w0rd";

fn secret(name: &str, secret_type: &str, key: &str, content: &str) -> Secret {
    Secret {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        type_: Some(secret_type.into()),
        data: Some(BTreeMap::from([(key.to_owned(), ByteString(content.as_bytes().to_vec()))])),
        ..Default::default()
    }
}

fn basic_auth(username: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
}

fn users_for(credentials: &Credentials, image: &str) -> Vec<String> {
    let reference = Reference::parse(image).unwrap_or_else(|e| panic!("{e}"));
    credentials
        .lookup(&reference)
        .into_iter()
        .map(|credential| match &credential.basic {
            Some(basic) => format!("{}:{}", basic.username(), basic.password()),
            None => "anonymous".to_owned(),
        })
        .collect()
}

#[test]
fn reads_both_secret_formats_and_all_entry_forms() {
    let config_json = format!(
        r#"{{"auths": {{
            "quay.io": {{"auth": "{}"}},
            "https://index.docker.io/v1/": {{"username": "hubuser", "password": "hubpass", "email": "a@b.c"}},
            "ghcr.io": {{"username": "both", "password": "ignored", "auth": "{}"}},
            "public.example.com": {{}}
        }}}}"#,
        basic_auth("quayuser", "quay:pass:with:colons"),
        basic_auth("fromauth", "authpass"),
    );
    let dockercfg = format!(r#"{{"registry.local:5000": {{"auth": "{}"}}}}"#, basic_auth("legacy", "legacypass"));
    let secrets = [
        secret("regcred", DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, &config_json),
        secret("old", DOCKER_CFG_TYPE, DOCKER_CFG_KEY, &dockercfg),
    ];
    let (credentials, problems) = Credentials::from_pull_secrets(&secrets);
    assert_eq!(problems, vec![]);

    let cases: &[(&str, &[&str])] = &[
        ("quay.io/team/app:1", &["quayuser:quay:pass:with:colons"]),
        ("nginx", &["hubuser:hubpass"]),
        ("docker.io/bitnami/redis", &["hubuser:hubpass"]),
        ("ghcr.io/org/app", &["fromauth:authpass"]),
        ("public.example.com/app", &["anonymous"]),
        ("registry.local:5000/app", &["legacy:legacypass"]),
        ("registry.local:5001/app", &[]),
        ("gcr.io/project/app", &[]),
    ];
    for (image, expected) in cases {
        assert_eq!(&users_for(&credentials, image), expected, "{image}");
    }
    let source = &credentials.lookup(&Reference::parse("quay.io/a").unwrap_or_else(|e| panic!("{e}")))[0].source;
    assert_eq!(source, "pull secret \"regcred\"");
}

#[test]
fn later_secrets_for_the_same_registry_come_after_earlier_ones() {
    let first = format!(r#"{{"auths": {{"quay.io": {{"auth": "{}"}}}}}}"#, basic_auth("first", "one"));
    let second = format!(r#"{{"auths": {{"https://quay.io": {{"auth": "{}"}}}}}}"#, basic_auth("second", "two"));
    let (credentials, problems) = Credentials::from_pull_secrets(&[
        secret("a", DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, &first),
        secret("b", DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, &second),
    ]);
    assert!(problems.is_empty());
    assert_eq!(users_for(&credentials, "quay.io/x"), ["first:one", "second:two"]);
}

#[test]
fn reports_unreadable_secrets_and_keeps_the_good_ones() {
    let good = format!(r#"{{"auths": {{"quay.io": {{"auth": "{}"}}}}}}"#, basic_auth("user", PASSWORD));
    let not_base64 = format!(r#"{{"auths": {{"ghcr.io": {{"auth": "{PASSWORD}!!"}}}}}}"#);
    let no_colon = format!(
        r#"{{"auths": {{"ghcr.io": {{"auth": "{}"}}}}}}"#,
        base64::engine::general_purpose::STANDARD.encode(PASSWORD)
    );
    let wrong_type = r#"{"auths": {"ghcr.io": {"username": "u", "password": 12}}}"#;
    let auths_not_object = format!(r#"{{"auths": "{PASSWORD}"}}"#);
    let entry_not_object = format!(r#"{{"ghcr.io": "{PASSWORD}"}}"#);
    let secrets = [
        secret("bad-json", DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, &format!("{{\"auths\": {PASSWORD}")),
        secret("good", DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, &good),
        secret("not-base64", DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, &not_base64),
        secret("no-colon", DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, &no_colon),
        secret("wrong-type", DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, wrong_type),
        secret("no-auths", DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, r#"{"quay.io": {}}"#),
        secret("auths-string", DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, &auths_not_object),
        secret("legacy-entry", DOCKER_CFG_TYPE, DOCKER_CFG_KEY, &entry_not_object),
        secret("opaque", "Opaque", "password", PASSWORD),
        secret("wrong-key", DOCKER_CONFIG_JSON_TYPE, DOCKER_CFG_KEY, &good),
        secret("empty", DOCKER_CFG_TYPE, DOCKER_CFG_KEY, ""),
    ];
    let (credentials, problems) = Credentials::from_pull_secrets(&secrets);
    assert_eq!(users_for(&credentials, "quay.io/app"), [format!("user:{PASSWORD}")]);
    assert!(users_for(&credentials, "ghcr.io/app").is_empty());

    let expected: &[(&str, &str)] = &[
        ("bad-json", "is not valid JSON (error at line 1, column 11)"),
        ("not-base64", "entry \"ghcr.io\": field \"auth\" is not valid base64"),
        ("no-colon", "must be base64 of username:password"),
        ("wrong-type", "field \"password\" must be a string"),
        ("no-auths", "has no \"auths\" object"),
        ("auths-string", "\"auths\" must be an object keyed by registry"),
        ("legacy-entry", "entry \"ghcr.io\": must be an object"),
        ("opaque", "has type \"Opaque\""),
        ("wrong-key", "has no non-empty data key \".dockerconfigjson\""),
        ("empty", "has no non-empty data key \".dockercfg\""),
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (problem, (secret, words)) in problems.iter().zip(expected) {
        let message = problem.to_string();
        assert!(message.contains(&format!("pull secret {secret:?}")), "{message}");
        assert!(message.contains(words), "{message:?} lacks {words:?}");
        assert!(!message.contains(PASSWORD), "{message} leaks the password");
        assert!(!format!("{problem:?}").contains(PASSWORD), "{problem:?} leaks the password");
    }
}

#[test]
fn no_formatting_of_credentials_shows_the_password() {
    let json = format!(r#"{{"auths": {{"quay.io": {{"auth": "{}"}}}}}}"#, basic_auth("user", PASSWORD));
    let (credentials, _) =
        Credentials::from_pull_secrets(&[secret("regcred", DOCKER_CONFIG_JSON_TYPE, DOCKER_CONFIG_JSON_KEY, &json)]);
    let encoded = basic_auth("user", PASSWORD);
    let basic = BasicCredentials::new("user", PASSWORD);
    let credential = RegistryCredential { source: "test".into(), basic: Some(basic.clone()) };
    for shown in
        [format!("{credentials:?}"), format!("{credentials:#?}"), format!("{basic:?}"), format!("{credential:#?}")]
    {
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(!shown.contains(&encoded), "{shown}");
        assert!(shown.contains("user"), "the username helps diagnose: {shown}");
    }
}
