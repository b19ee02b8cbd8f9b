//! Errors of the numerics layer. Each names the field, the value and the rule it broke, so a
//! front end can print it as one line.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// A setting or parameter value outside its domain.
    #[error("{field} = {value}: {rule}")]
    Invalid {
        field: String,
        value: String,
        rule: String,
    },
    /// A parameter the rule needs is absent.
    #[error("params.{name} is missing: rule `{rule}` needs one of {alternatives}")]
    MissingParam {
        rule: String,
        name: String,
        alternatives: String,
    },
    /// A parameter array of the wrong shape (per-asset vectors must have one entry per asset).
    #[error("params.{name} has shape {got}: rule `{rule}` needs {expected}")]
    ParamShape {
        rule: String,
        name: String,
        got: String,
        expected: String,
    },
    /// A parameter the rule never reads: almost always a typo or the wrong rule.
    #[error("params.{name} is not a parameter of rule `{rule}` (it reads {accepted})")]
    UnusedParam {
        rule: String,
        name: String,
        accepted: String,
    },
    /// Two parameters that set the same quantity; the reference silently takes the first.
    #[error(
        "params.{first} and params.{second} both set the same quantity for rule `{rule}`: give only one"
    )]
    ConflictingParams {
        rule: String,
        first: String,
        second: String,
    },
    /// A rule name that is not known.
    #[error("rule = \"{name}\": unknown rule{suggestion} (known: {known})")]
    UnknownRule {
        name: String,
        suggestion: String,
        known: String,
    },
}

impl Error {
    pub fn invalid(
        field: impl Into<String>,
        value: impl ToString,
        rule: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            field: field.into(),
            value: value.to_string(),
            rule: rule.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The closest candidate by edit distance, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["momentum", "anti_momentum", "power_channel"];
        assert_eq!(did_you_mean("momentun", names), Some("momentum"));
        assert_eq!(did_you_mean("power_chanel", names), Some("power_channel"));
        assert_eq!(did_you_mean("zzz", names), None);
    }
}
