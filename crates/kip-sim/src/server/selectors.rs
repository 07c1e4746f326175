//! Label and field selectors: the Kubernetes selector grammar, parsed once per request and
//! matched against stored objects. Failures are 400 BadRequest with the API server's wording.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::ApiError;

mod fields;
pub use fields::FieldSelector;

#[derive(Clone, Debug, PartialEq, Eq)]
enum LabelOp {
    Equals(String),
    NotEquals(String),
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Exists,
    DoesNotExist,
    GreaterThan(i64),
    LessThan(i64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct LabelRequirement {
    key: String,
    op: LabelOp,
}

/// A parsed `labelSelector`; all requirements must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<LabelRequirement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Ident(String),
    Comma,
    Open,
    Close,
    Eq,
    DoubleEq,
    NotEq,
    Not,
    Gt,
    Lt,
    In,
    NotIn,
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "end of string".into(),
        Some(Token::Ident(s)) => format!("'{s}'"),
        Some(Token::Comma) => "','".into(),
        Some(Token::Open) => "'('".into(),
        Some(Token::Close) => "')'".into(),
        Some(Token::Eq) => "'='".into(),
        Some(Token::DoubleEq) => "'=='".into(),
        Some(Token::NotEq) => "'!='".into(),
        Some(Token::Not) => "'!'".into(),
        Some(Token::Gt) => "'>'".into(),
        Some(Token::Lt) => "'<'".into(),
        Some(Token::In) => "'in'".into(),
        Some(Token::NotIn) => "'notin'".into(),
    }
}

fn tokenize(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            ',' | '(' | ')' | '>' | '<' => {
                chars.next();
                tokens.push(match c {
                    ',' => Token::Comma,
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '>' => Token::Gt,
                    _ => Token::Lt,
                });
            }
            '=' | '!' => {
                chars.next();
                let double = chars.peek() == Some(&'=');
                if double {
                    chars.next();
                }
                tokens.push(match (c, double) {
                    ('=', false) => Token::Eq,
                    ('=', true) => Token::DoubleEq,
                    ('!', false) => Token::Not,
                    _ => Token::NotEq,
                });
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || ",()<>=!".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(match word.as_str() {
                    "in" => Token::In,
                    "notin" => Token::NotIn,
                    _ => Token::Ident(word),
                });
            }
        }
    }
    tokens
}

fn parse_error(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("unable to parse requirement: {detail}"))
}

/// A label value: at most 63 characters, alphanumerics with `-`, `_`, `.` inside.
fn check_value(value: &str) -> Result<(), ApiError> {
    let inner_ok = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let ends_ok = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    if value.len() > 63
        || !value.chars().all(inner_ok)
        || !ends_ok(value.chars().next())
        || !ends_ok(value.chars().last())
    {
        return Err(parse_error(format!(
            "values[0]: Invalid value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )));
    }
    Ok(())
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters.
fn check_key(key: &str) -> Result<(), ApiError> {
    let (prefix, name) = key.rsplit_once('/').map_or((None, key), |(p, n)| (Some(p), n));
    let name_ok = !name.is_empty() && check_value(name).is_ok();
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
    });
    if !name_ok || !prefix_ok {
        return Err(parse_error(format!(
            "key: Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )));
    }
    Ok(())
}

impl LabelSelector {
    pub fn parse(input: &str) -> Result<Self, ApiError> {
        let tokens = tokenize(input);
        let mut pos = 0;
        let mut requirements = Vec::new();
        if tokens.is_empty() {
            return Ok(LabelSelector::default());
        }
        loop {
            requirements.push(parse_requirement(&tokens, &mut pos)?);
            match tokens.get(pos) {
                None => break,
                Some(Token::Comma) => pos += 1,
                other => {
                    return Err(parse_error(format!("found {}, expected: ',' or 'end of string'", describe(other))));
                }
            }
        }
        Ok(LabelSelector { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        self.requirements.iter().all(|r| {
            let value = labels.and_then(|l| l.get(&r.key)).and_then(Value::as_str);
            match &r.op {
                LabelOp::Equals(v) => value == Some(v.as_str()),
                LabelOp::NotEquals(v) => value != Some(v.as_str()),
                LabelOp::In(set) => value.is_some_and(|v| set.contains(v)),
                LabelOp::NotIn(set) => value.is_none_or(|v| !set.contains(v)),
                LabelOp::Exists => value.is_some(),
                LabelOp::DoesNotExist => value.is_none(),
                LabelOp::GreaterThan(n) => value.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n),
                LabelOp::LessThan(n) => value.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n),
            }
        })
    }
}

fn parse_requirement(tokens: &[Token], pos: &mut usize) -> Result<LabelRequirement, ApiError> {
    let negated = tokens.get(*pos) == Some(&Token::Not);
    if negated {
        *pos += 1;
    }
    let key = match tokens.get(*pos) {
        Some(Token::Ident(key)) => key.clone(),
        other => return Err(parse_error(format!("found {}, expected: identifier", describe(other)))),
    };
    check_key(&key)?;
    *pos += 1;
    if negated {
        return Ok(LabelRequirement { key, op: LabelOp::DoesNotExist });
    }
    let op_token = tokens.get(*pos).cloned();
    let op = match op_token {
        None | Some(Token::Comma) => return Ok(LabelRequirement { key, op: LabelOp::Exists }),
        Some(Token::Eq | Token::DoubleEq | Token::NotEq) => {
            *pos += 1;
            let value = single_value(tokens, pos)?;
            if op_token == Some(Token::NotEq) { LabelOp::NotEquals(value) } else { LabelOp::Equals(value) }
        }
        Some(Token::Gt | Token::Lt) => {
            *pos += 1;
            let value = single_value(tokens, pos)?;
            let n: i64 = value.parse().map_err(|_| {
                parse_error(format!("for 'Gt', 'Lt' operators, the value must be an integer: {value:?}"))
            })?;
            if op_token == Some(Token::Gt) { LabelOp::GreaterThan(n) } else { LabelOp::LessThan(n) }
        }
        Some(Token::In | Token::NotIn) => {
            *pos += 1;
            let set = value_set(tokens, pos)?;
            if op_token == Some(Token::In) { LabelOp::In(set) } else { LabelOp::NotIn(set) }
        }
        other => {
            return Err(parse_error(format!(
                "found {}, expected: in, notin, =, ==, !=, gt, lt",
                describe(other.as_ref())
            )));
        }
    };
    Ok(LabelRequirement { key, op })
}

fn single_value(tokens: &[Token], pos: &mut usize) -> Result<String, ApiError> {
    match tokens.get(*pos) {
        Some(Token::Ident(v)) => {
            *pos += 1;
            check_value(v)?;
            Ok(v.clone())
        }
        // `key=` selects the empty value.
        None | Some(Token::Comma) => Ok(String::new()),
        other => Err(parse_error(format!("found {}, expected: identifier", describe(other)))),
    }
}

fn value_set(tokens: &[Token], pos: &mut usize) -> Result<BTreeSet<String>, ApiError> {
    if tokens.get(*pos) != Some(&Token::Open) {
        return Err(parse_error(format!("found {}, expected: '('", describe(tokens.get(*pos)))));
    }
    *pos += 1;
    let mut set = BTreeSet::new();
    loop {
        match tokens.get(*pos) {
            Some(Token::Ident(v)) => {
                check_value(v)?;
                set.insert(v.clone());
                *pos += 1;
            }
            Some(Token::Comma | Token::Close) => {
                set.insert(String::new());
            }
            other => return Err(parse_error(format!("found {}, expected: ',', ')' or identifier", describe(other)))),
        }
        match tokens.get(*pos) {
            Some(Token::Comma) => *pos += 1,
            Some(Token::Close) => {
                *pos += 1;
                return Ok(set);
            }
            other => return Err(parse_error(format!("found {}, expected: ',' or ')'", describe(other)))),
        }
    }
}

#[cfg(test)]
mod tests;
