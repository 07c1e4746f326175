//! Single-valued variables: resource quantities, the refresh interval, switches, the rolling
//! update bound, the caching mode and object names. Each parser returns the value or the one
//! [`Problem`] with it; the caller collects them.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kip_rules::{Quantity, QuantityError};

use super::CachingMode;
use super::problem::Problem;

/// A parse failure: what is wrong, and what would be accepted.
pub(crate) type Refusal = (String, &'static str);

const MEMORY_ACCEPTED: &str =
    "a quantity such as 10Mi, 512Ki, 1Gi (Ki, Mi, Gi: powers of 1024; k, M, G: powers of 1000)";
const CPU_ACCEPTED: &str = "a quantity such as .05, 50m, 1 (m: thousandths of a CPU)";

/// A quantity for CPU or memory, with a warning when the number is so far off that a unit was
/// probably forgotten (`20` bytes of memory, `200` CPUs).
pub(crate) fn quantity(text: &str, memory: bool) -> Result<(Quantity, Option<String>), Refusal> {
    let accepted = if memory { MEMORY_ACCEPTED } else { CPU_ACCEPTED };
    let quantity = Quantity::parse(text).map_err(|error| {
        let message = match error {
            QuantityError::UnknownSuffix(suffix)
                if suffix.eq_ignore_ascii_case("mb") || suffix.eq_ignore_ascii_case("mib") =>
            {
                format!("{text:?} has an unknown unit {suffix:?}; Kubernetes writes mebibytes as Mi and megabytes as M")
            }
            error => format!("{text:?} is not a quantity: {error}"),
        };
        (message, accepted)
    })?;
    if quantity < 0 {
        return Err((format!("{text:?} is negative"), accepted));
    }
    let unitless = text.chars().all(|c| c.is_ascii_digit() || c == '.');
    let suspicious = unitless && if memory { quantity.units() > 0 && quantity.units() < 1024 } else { quantity > 64 };
    let warning = suspicious.then(|| {
        let (what, guess) = if memory {
            (format!("{} bytes", quantity.units()), format!("{text}Mi"))
        } else {
            (format!("{} CPUs", quantity.display_cpu()), format!("{text}m"))
        };
        format!("{text:?} is {what}; did you mean {guess}?")
    });
    Ok((quantity, warning))
}

/// A request must not exceed its limit (the API server refuses such a pod).
pub(crate) fn request_within_limit(
    request_var: &str,
    request: (&str, Quantity),
    limit_var: &str,
    limit: (&str, Quantity),
) -> Option<Problem> {
    (request.1 > limit.1).then(|| {
        Problem::new(request_var, format!("{:?} is above {limit_var} {:?}", request.0, limit.0))
            .accepted(format!("a request at most the limit; raise {limit_var} or lower {request_var}"))
    })
}

/// Hours between refreshes: a whole number of at least 1. The Go puller fell back to 1 on
/// anything else; kip refuses, so that `1h` or `0.5` does not silently mean one hour.
pub(crate) fn interval_hours(text: &str) -> Result<u32, Refusal> {
    const ACCEPTED: &str = "a whole number of hours, at least 1, without unit, e.g. 1 or 24";
    let refuse = |message: String| Err((message, ACCEPTED));
    if let Ok(hours) = text.parse::<u32>() {
        return if hours == 0 { refuse(format!("{text:?} is zero")) } else { Ok(hours) };
    }
    match text.parse::<i64>() {
        Ok(n) if n < 0 => return refuse(format!("{text:?} is negative")),
        Ok(_) => return refuse(format!("{text:?} is too large")),
        Err(_) => {}
    }
    if text.parse::<f64>().is_ok() {
        return refuse(format!("{text:?} is not a whole number"));
    }
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if digits.len() < text.len() && digits.parse::<u32>().is_ok() {
        return refuse(format!("{text:?} has a unit; the value is already in hours, write {digits}"));
    }
    refuse(format!("{text:?} is not a number"))
}

/// true/false, also 1/0 and yes/no, in any case.
pub(crate) fn switch(text: &str) -> Result<bool, Refusal> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err((format!("{text:?} is not a switch"), "true or false (also 1/0, yes/no; any case)")),
    }
}

/// The DaemonSet's `maxUnavailable`: a count of at least 1, or a percentage from 1% to 100%.
pub(crate) fn max_unavailable(text: &str) -> Result<IntOrString, Refusal> {
    const ACCEPTED: &str = "a number of nodes (at least 1) or a percentage from 1% to 100%, e.g. 10%";
    let refuse = |message: String| Err((message, ACCEPTED));
    if let Some(percent) = text.strip_suffix('%') {
        return match percent.parse::<u32>() {
            Ok(1..=100) => Ok(IntOrString::String(format!("{percent}%"))),
            Ok(0) => refuse(format!("{text:?} would never let a pod be replaced")),
            Ok(_) => refuse(format!("{text:?} is above 100%")),
            Err(_) => refuse(format!("{text:?} is not a whole percentage")),
        };
    }
    match text.parse::<i64>() {
        Ok(count) if count >= 1 => {
            i32::try_from(count).map(IntOrString::Int).or_else(|_| refuse(format!("{text:?} is too large")))
        }
        Ok(0) => refuse(format!("{text:?} would never let a pod be replaced")),
        Ok(_) => refuse(format!("{text:?} is negative")),
        Err(_) => refuse(format!("{text:?} is neither a number nor a percentage")),
    }
}

pub(crate) fn caching_mode(text: &str) -> Result<CachingMode, (String, String)> {
    CachingMode::ALL.iter().copied().find(|mode| mode.as_str().eq_ignore_ascii_case(text)).ok_or_else(|| {
        let accepted: Vec<&str> = CachingMode::ALL.iter().map(|mode| mode.as_str()).collect();
        (format!("{text:?} is not a caching mode"), accepted.join(", "))
    })
}

/// Problems of one name checked by a `kip_rules` rule, each as its own [`Problem`].
pub(crate) fn name(variable: &str, text: &str, rule: fn(&str) -> Vec<String>, kind: &str) -> Vec<Problem> {
    rule(text)
        .into_iter()
        .map(|problem| Problem::new(variable, format!("{text:?} is not a valid {kind}: {problem}")))
        .collect()
}
