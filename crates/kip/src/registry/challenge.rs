//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1), as registries send them with a 401:
//! `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:app:pull"`
//! or `Basic realm="Registry"`. One header may hold several challenges, separated by commas
//! like their parameters; a new challenge starts at a token that is not followed by `=`.

use std::collections::BTreeMap;

/// One authentication challenge: the scheme (lowercase) and its parameters (names lowercase).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// What a Bearer challenge asks for: where to get a token, for which service and scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BearerChallenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
    /// `error` parameter, e.g. `invalid_token` or `insufficient_scope`.
    pub error: Option<String>,
}

impl BearerChallenge {
    /// The Bearer challenge among `challenges`, if one has a realm.
    pub fn find(challenges: &[Challenge]) -> Option<BearerChallenge> {
        challenges.iter().find(|challenge| challenge.scheme == "bearer").and_then(|challenge| {
            Some(BearerChallenge {
                realm: challenge.param("realm")?.to_owned(),
                service: challenge.param("service").map(str::to_owned),
                scope: challenge.param("scope").map(str::to_owned),
                error: challenge.param("error").map(str::to_owned),
            })
        })
    }
}

/// Parses every challenge in one header value; malformed tails are dropped, not fatal,
/// since a registry's 401 is an answer either way.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut cursor = Cursor { rest: header };
    let mut challenges: Vec<Challenge> = Vec::new();
    loop {
        cursor.skip_separators();
        let Some(scheme) = cursor.token() else { break };
        let mut challenge = Challenge { scheme: scheme.to_ascii_lowercase(), params: BTreeMap::new() };
        cursor.skip_whitespace();
        // The token68 form (`Negotiate abc==`) carries nothing a registry client needs.
        if !cursor.skip_token68() {
            cursor.parameters_into(&mut challenge);
        }

        challenges.push(challenge);
    }
    challenges
}

struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    fn eat(&mut self, expected: char) -> bool {
        match self.rest.strip_prefix(expected) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Reads `name=value` pairs separated by commas, stopping before a token that is not
    /// followed by `=` (the next challenge's scheme).
    fn parameters_into(&mut self, challenge: &mut Challenge) {
        loop {
            self.skip_whitespace();
            let checkpoint = self.rest;
            let Some(name) = self.token() else { return };
            self.skip_whitespace();
            if !self.eat('=') {
                self.rest = checkpoint;
                return;
            }
            self.skip_whitespace();
            let value = if self.peek() == Some('"') { self.quoted_string() } else { self.token().map(str::to_owned) };
            let Some(value) = value else { return };
            challenge.params.insert(name.to_ascii_lowercase(), value);
            self.skip_whitespace();
            if !self.eat(',') {
                return;
            }
        }
    }

    fn skip_whitespace(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    fn skip_separators(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t', ',']);
    }

    /// Skips a token68 if one comes next (its characters, trailing `=`s, then a comma or the
    /// end); an auth-param (`name=value`) is left alone.
    fn skip_token68(&mut self) -> bool {
        let is_token68_char = |c: char| c.is_ascii_alphanumeric() || "-._~+/".contains(c);
        let body_end = self.rest.find(|c: char| !is_token68_char(c)).unwrap_or(self.rest.len());
        if body_end == 0 {
            return false;
        }
        let after_body = &self.rest[body_end..];
        let after_padding = after_body.trim_start_matches('=').trim_start_matches([' ', '\t']);
        if after_padding.is_empty() || after_padding.starts_with(',') {
            self.rest = after_padding;
            return true;
        }
        false
    }

    /// An RFC 9110 token.
    fn token(&mut self) -> Option<&'a str> {
        let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        let end = self.rest.find(|c: char| !is_tchar(c)).unwrap_or(self.rest.len());
        if end == 0 {
            return None;
        }
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(token)
    }

    /// A quoted string with backslash escapes; `None` if unterminated.
    fn quoted_string(&mut self) -> Option<String> {
        let mut chars = self.rest.char_indices().skip(1);
        let mut value = String::new();
        while let Some((index, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[index + 1..];
                    return Some(value);
                }
                '\\' => value.push(chars.next()?.1),
                c => value.push(c),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.into(),
            params: params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        }
    }

    #[test]
    fn parses_challenges() {
        let cases: Vec<(&str, Vec<Challenge>)> = vec![
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
                vec![challenge(
                    "bearer",
                    &[
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:library/nginx:pull"),
                    ],
                )],
            ),
            (r#"Basic realm="Registry Realm""#, vec![challenge("basic", &[("realm", "Registry Realm")])]),
            (r#"basic Realm=unquoted"#, vec![challenge("basic", &[("realm", "unquoted")])]),
            (
                r#"Bearer realm = "a,b" , scope="x:y:pull,push", error="insufficient_scope""#,
                vec![challenge(
                    "bearer",
                    &[("realm", "a,b"), ("scope", "x:y:pull,push"), ("error", "insufficient_scope")],
                )],
            ),
            (r#"Basic realm="say \"hi\"""#, vec![challenge("basic", &[("realm", r#"say "hi""#)])]),
            (
                r#"Basic realm="r", Bearer realm="https://t/token", service="s""#,
                vec![
                    challenge("basic", &[("realm", "r")]),
                    challenge("bearer", &[("realm", "https://t/token"), ("service", "s")]),
                ],
            ),
            (
                "Negotiate abc==, Basic realm=\"r\"",
                vec![challenge("negotiate", &[]), challenge("basic", &[("realm", "r")])],
            ),
            ("Bearer", vec![challenge("bearer", &[])]),
            ("", vec![]),
            (r#"Bearer realm="unterminated"#, vec![challenge("bearer", &[])]),
        ];
        for (header, expected) in cases {
            assert_eq!(parse_challenges(header), expected, "{header}");
        }
    }

    #[test]
    fn finds_the_bearer_challenge() {
        let challenges =
            parse_challenges(r#"Basic realm="r", Bearer realm="https://t/token",service="reg",error="invalid_token""#);
        assert_eq!(
            BearerChallenge::find(&challenges),
            Some(BearerChallenge {
                realm: "https://t/token".into(),
                service: Some("reg".into()),
                scope: None,
                error: Some("invalid_token".into()),
            })
        );
        assert_eq!(BearerChallenge::find(&parse_challenges("Bearer service=\"no-realm\"")), None);
        assert_eq!(BearerChallenge::find(&parse_challenges("Basic realm=\"r\"")), None);
    }
}
