//! How simulated containers behave, read from their command line: `sleep DURATION` (any
//! binary named `sleep`, such as `/kip/sleep 720h`) runs that long and exits 0; a shell command
//! ending in `exit N` exits N after a short run; `true`/`false` exit 0/1 at once. Anything else
//! runs until stopped, except init containers, which complete after a short run (copying a
//! file, `/kip/sleep 0s`, and the like).

use std::time::Duration;

/// What a started container will do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunPlan {
    Forever,
    /// Exits with `code` after `after` simulated time.
    ExitAfter {
        after: Duration,
        code: i32,
    },
}

pub fn plan(command: &[String], args: &[String], init: bool, short_run: Duration) -> RunPlan {
    let words: Vec<&str> = command.iter().chain(args).map(String::as_str).collect();
    let default = if init { RunPlan::ExitAfter { after: short_run, code: 0 } } else { RunPlan::Forever };
    let Some(program) = words.first().map(|w| w.rsplit('/').next().unwrap_or(w)) else { return default };
    match program {
        "sleep" => match words.get(1).and_then(|d| parse_duration(d)) {
            Some(after) => RunPlan::ExitAfter { after, code: 0 },
            None => default,
        },
        "true" => RunPlan::ExitAfter { after: Duration::ZERO, code: 0 },
        "false" => RunPlan::ExitAfter { after: Duration::ZERO, code: 1 },
        "sh" | "bash" | "ash" | "dash" if words.get(1) == Some(&"-c") => {
            shell_plan(words.get(2).copied().unwrap_or(""), short_run).unwrap_or(default)
        }
        _ => default,
    }
}

/// A shell script's last `exit N`, or a `sleep D` it runs.
fn shell_plan(script: &str, short_run: Duration) -> Option<RunPlan> {
    let tokens: Vec<&str> =
        script.split(|c: char| c.is_whitespace() || c == ';' || c == '&').filter(|t| !t.is_empty()).collect();
    let exit = tokens.windows(2).rev().find(|w| w[0] == "exit").and_then(|w| w[1].parse::<i32>().ok());
    if let Some(code) = exit {
        return Some(RunPlan::ExitAfter { after: short_run, code });
    }
    let sleep =
        tokens.windows(2).find(|w| w[0].rsplit('/').next() == Some("sleep")).and_then(|w| parse_duration(w[1]))?;
    Some(RunPlan::ExitAfter { after: sleep, code: 0 })
}

/// A duration in Go syntax (`720h`, `1h30m`, `1.5s`, `300ms`, `0s`), or a plain number of
/// seconds as coreutils `sleep` takes it.
pub fn parse_duration(text: &str) -> Option<Duration> {
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds >= 0.0 && seconds.is_finite()).then(|| Duration::from_secs_f64(seconds));
    }
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn durations_parse_in_go_and_coreutils_syntax() {
        let cases = [
            ("720h", Some(720.0 * 3600.0)),
            ("1h30m5s", Some(5405.0)),
            ("1.5h", Some(5400.0)),
            ("300ms", Some(0.3)),
            ("0s", Some(0.0)),
            ("5", Some(5.0)),
            ("2d", Some(172_800.0)),
            ("10x", None),
            ("h", None),
            ("-1", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text).map(|d| d.as_secs_f64()), expected, "{text}");
        }
    }

    #[test]
    fn command_lines_decide_how_containers_run() {
        let short = Duration::from_millis(500);
        let cases = [
            (
                words(&["/kip/sleep"]),
                words(&["720h"]),
                false,
                RunPlan::ExitAfter { after: Duration::from_secs(720 * 3600), code: 0 },
            ),
            (words(&["/kip/sleep", "0s"]), vec![], true, RunPlan::ExitAfter { after: Duration::ZERO, code: 0 }),
            (
                words(&["/bin/sh", "-c", "cp /bin/sleep /kip/sleep"]),
                vec![],
                true,
                RunPlan::ExitAfter { after: short, code: 0 },
            ),
            (words(&["sh", "-c", "echo hi; exit 3"]), vec![], false, RunPlan::ExitAfter { after: short, code: 3 }),
            (
                words(&["sh", "-c", "sleep 2 && echo done"]),
                vec![],
                false,
                RunPlan::ExitAfter { after: Duration::from_secs(2), code: 0 },
            ),
            (words(&["false"]), vec![], false, RunPlan::ExitAfter { after: Duration::ZERO, code: 1 }),
            (words(&["nginx"]), vec![], false, RunPlan::Forever),
            (vec![], vec![], false, RunPlan::Forever),
            (vec![], vec![], true, RunPlan::ExitAfter { after: short, code: 0 }),
            (
                words(&["/kip/sleep", "--copy-to", "/kip/sleep"]),
                vec![],
                true,
                RunPlan::ExitAfter { after: short, code: 0 },
            ),
        ];
        for (command, args, init, expected) in cases {
            assert_eq!(plan(&command, &args, init, short), expected, "{command:?} {args:?} init={init}");
        }
    }
}
