//! Rollout arithmetic: `maxSurge` and `maxUnavailable` as numbers or percentages, resolved
//! against a total with the rounding each controller uses (DaemonSets round both up;
//! Deployments round surge up and unavailability down).

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntOrPercentError {
    #[error("invalid value for IntOrString: invalid type: string is not a percentage ({0:?}); use a number or \"N%\"")]
    NotAPercentage(String),
    #[error("invalid value for IntOrString: invalid value {0:?}; expected an integer or \"N%\"")]
    Malformed(String),
}

/// An int-or-percent value resolved against `total`; `None` counts as 0.
pub fn scaled_value(value: Option<&Value>, total: i64, round_up: bool) -> Result<i64, IntOrPercentError> {
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| IntOrPercentError::Malformed(n.to_string())),
        Some(Value::String(s)) => {
            let Some(percent) = s.strip_suffix('%') else {
                return Err(IntOrPercentError::NotAPercentage(s.clone()));
            };
            let percent: i64 = percent.parse().map_err(|_| IntOrPercentError::Malformed(s.clone()))?;
            let scaled = percent * total;
            Ok(if round_up {
                scaled.div_euclid(100) + i64::from(scaled.rem_euclid(100) != 0)
            } else {
                scaled.div_euclid(100)
            })
        }
        Some(other) => Err(IntOrPercentError::Malformed(other.to_string())),
    }
}

/// `(maxSurge, maxUnavailable)` of a DaemonSet for `desired` scheduled nodes. A DaemonSet that
/// allows neither gets one unavailable pod, so that an update can progress.
pub fn daemonset_limits(update_strategy: &Value, desired: i64) -> Result<(i64, i64), IntOrPercentError> {
    let rolling = update_strategy.get("type").and_then(Value::as_str).unwrap_or("RollingUpdate") == "RollingUpdate";
    let (mut surge, mut unavailable) = (0, 0);
    if rolling {
        let params = update_strategy.get("rollingUpdate");
        let default_unavailable = Value::from(1);
        let max_unavailable = match params {
            Some(p) => p.get("maxUnavailable"),
            None => Some(&default_unavailable),
        };
        unavailable = scaled_value(max_unavailable, desired, true)?;
        surge = scaled_value(params.and_then(|p| p.get("maxSurge")), desired, true)?;
    }
    if desired > 0 && surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

/// `(maxSurge, maxUnavailable)` of a rolling Deployment with `replicas` desired. When both
/// round to zero, one pod may be unavailable.
pub fn deployment_fenceposts(
    max_surge: Option<&Value>,
    max_unavailable: Option<&Value>,
    replicas: i64,
) -> Result<(i64, i64), IntOrPercentError> {
    let surge = scaled_value(max_surge, replicas, true)?;
    let mut unavailable = scaled_value(max_unavailable, replicas, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn percentages_round_as_asked() {
        let cases = [
            (json!(3), 10, true, 3),
            (json!(3), 10, false, 3),
            (json!("25%"), 10, true, 3),
            (json!("25%"), 10, false, 2),
            (json!("30%"), 10, true, 3),
            (json!("1%"), 1, true, 1),
            (json!("1%"), 1, false, 0),
            (json!("100%"), 7, false, 7),
            (json!("0%"), 100, true, 0),
            (json!("10%"), 0, true, 0),
        ];
        for (value, total, up, expected) in cases {
            assert_eq!(scaled_value(Some(&value), total, up), Ok(expected), "{value} of {total}, up={up}");
        }
        assert_eq!(scaled_value(None, 10, true), Ok(0));
    }

    #[test]
    fn strings_must_be_percentages() {
        assert_eq!(scaled_value(Some(&json!("3")), 10, true), Err(IntOrPercentError::NotAPercentage("3".into())));
        assert!(matches!(scaled_value(Some(&json!("x%")), 10, true), Err(IntOrPercentError::Malformed(_))));
        assert!(scaled_value(Some(&json!("3")), 10, true).unwrap_err().to_string().contains("\"N%\""));
    }

    #[test]
    fn daemonsets_round_up_and_never_stall() {
        let cases = [
            (json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}), 10, (0, 1)),
            (json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%"}}), 10, (0, 3)),
            (json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "1%"}}), 5000, (0, 50)),
            (json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "10%"}}), 15, (2, 0)),
            (json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}), 3, (0, 1)),
            (json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}), 0, (0, 0)),
            (json!({"type": "RollingUpdate"}), 10, (0, 1)),
            (json!({}), 10, (0, 1)),
            (json!({"type": "OnDelete"}), 10, (0, 1)),
        ];
        for (strategy, desired, expected) in cases {
            assert_eq!(daemonset_limits(&strategy, desired), Ok(expected), "{strategy} with {desired}");
        }
    }

    #[test]
    fn deployments_round_surge_up_and_unavailability_down() {
        let cases = [
            (json!("25%"), json!("25%"), 4, (1, 1)),
            (json!("25%"), json!("25%"), 10, (3, 2)),
            (json!("25%"), json!("25%"), 1, (1, 0)),
            (json!(0), json!("25%"), 1, (0, 1)),
            (json!(2), json!(0), 5, (2, 0)),
        ];
        for (surge, unavailable, replicas, expected) in cases {
            assert_eq!(
                deployment_fenceposts(Some(&surge), Some(&unavailable), replicas),
                Ok(expected),
                "{surge}/{unavailable} of {replicas}"
            );
        }
    }
}
