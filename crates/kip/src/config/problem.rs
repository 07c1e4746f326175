//! Problems found in a configuration, and the report that `kip validate` prints: one problem a
//! line, `VARIABLE[where]: what. Accepted: ...`, so it reads the same in a terminal and in a log.

use std::fmt;

/// Where inside a variable's value a problem sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The `index`-th entry (counted from 1) of a list such as `IMAGES` or `TOLERATIONS`.
    Entry { index: usize, text: String },
    /// A key of a JSON object such as `NODE_SELECTOR`.
    Key(String),
    /// A JSON path (`$.nodeAffinity...`, array indices from 0 as in JSON tools).
    Path(String),
    /// A line and column (from 1) in the raw text, for syntax errors.
    Position { line: usize, column: usize },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // JSON entries read better unquoted than with every quote escaped.
            Location::Entry { index, text } if text.starts_with('{') => write!(f, "entry {index} {text}"),
            Location::Entry { index, text } => write!(f, "entry {index} {text:?}"),
            Location::Key(key) => write!(f, "key {key:?}"),
            Location::Path(path) => f.write_str(path),
            Location::Position { line, column } => write!(f, "line {line}, column {column}"),
        }
    }
}

/// One problem: which variable, where in it, what is wrong and what would be accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The variable's name as the user wrote it.
    pub variable: String,
    pub location: Option<Location>,
    /// What is wrong, as a sentence without its final period.
    pub message: String,
    /// What would be accepted instead, when that can be said.
    pub accepted: Option<String>,
    /// The offending line of the raw value and a caret under the column (two lines), for
    /// syntax errors; printed under the problem by [`ConfigErrors`]'s report.
    pub excerpt: Option<String>,
}

impl Problem {
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { variable: variable.into(), location: None, message: message.into(), accepted: None, excerpt: None }
    }

    pub fn at(mut self, location: Location) -> Problem {
        self.location = Some(location);
        self
    }

    pub fn entry(self, index: usize, text: &str) -> Problem {
        self.at(Location::Entry { index, text: text.to_string() })
    }

    pub fn accepted(mut self, accepted: impl Into<String>) -> Problem {
        self.accepted = Some(accepted.into());
        self
    }

    pub fn excerpt(mut self, excerpt: String) -> Problem {
        self.excerpt = Some(excerpt);
        self
    }
}

/// One line, without the excerpt: fit for a log line.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.variable)?;
        if let Some(location) = &self.location {
            write!(f, "[{location}]")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(accepted) = &self.accepted {
            // A message may end in a question ("did you mean X?"), which needs no period.
            let stop = if self.message.ends_with(['?', '.']) { "" } else { "." };
            write!(f, "{stop} Accepted: {accepted}")?;
        }
        Ok(())
    }
}

/// Every problem of an invalid configuration (errors), and the warnings found on the way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigErrors {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl std::error::Error for ConfigErrors {}

fn plural(count: usize, word: &str) -> String {
    if count == 1 { format!("1 {word}") } else { format!("{count} {word}s") }
}

/// `error: ...` and `warning: ...` lines under a one-line header; a syntax error's excerpt is
/// indented under its line so the problem lines stay greppable.
pub(crate) fn write_problems(f: &mut fmt::Formatter<'_>, label: &str, problems: &[Problem]) -> fmt::Result {
    for problem in problems {
        write!(f, "\n{label}: {problem}")?;
        if let Some(excerpt) = &problem.excerpt {
            for line in excerpt.lines() {
                write!(f, "\n    {line}")?;
            }
        }
    }
    Ok(())
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", plural(self.errors.len(), "error"))?;
        if !self.warnings.is_empty() {
            write!(f, ", {}", plural(self.warnings.len(), "warning"))?;
        }
        write_problems(f, "error", &self.errors)?;
        write_problems(f, "warning", &self.warnings)
    }
}

impl ConfigErrors {
    /// The errors about one variable (tests and callers that act on a single key).
    pub fn for_variable<'a>(&'a self, variable: &'a str) -> impl Iterator<Item = &'a Problem> + 'a {
        self.errors.iter().filter(move |p| p.variable == variable)
    }
}

/// Two lines of `raw`: its `line` (from 1) and a caret under `column` (from 1, counted in bytes
/// as serde_json counts).
pub(crate) fn caret_excerpt(raw: &str, line: usize, column: usize) -> Option<String> {
    const WINDOW: usize = 60;
    let text = raw.lines().nth(line.checked_sub(1)?)?;
    // Columns count bytes; convert to characters so the caret lands under the right glyph.
    let mut byte = column.saturating_sub(1).min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    let chars: Vec<char> = text.chars().collect();
    let caret = text[..byte].chars().count();
    // Long one-line JSON values: show a window around the caret.
    let start = caret.saturating_sub(WINDOW / 2);
    let end = (start + WINDOW).min(chars.len());
    let mut shown: String = chars[start..end].iter().collect();
    let mut offset = caret - start;
    if start > 0 {
        shown.insert_str(0, "...");
        offset += 3;
    }
    if end < chars.len() {
        shown.push_str("...");
    }
    Some(format!("{shown}\n{}^", " ".repeat(offset)))
}
