//! A query string's parameters as name/value pairs, decoded: what the endpoints' own
//! parameter types (the lists', the audit log's) parse themselves from. The edge builds it
//! from the request (`edge::http::query`); it carries no HTTP type.

use std::collections::HashMap;

use crate::domain::error::{ApiError, ErrorCode};

/// The query string's parameters, decoded, in the order given. Every endpoint reads them
/// through `known`, by one rule (docs/api.md): names match without regard to case; a
/// parameter repeated with the same value (spaces around it aside) counts once, repeated
/// with another value it is a 499 DEFAULT naming it, since acting on either would be a
/// guess; names an endpoint does not know are ignored, however often they come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: &str) -> Self {
        form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect()
    }

    /// The values of the parameters in `names` that are given, keyed by their name as
    /// `names` spells it.
    pub fn known<'q>(
        &'q self,
        names: &[&'static str],
    ) -> Result<HashMap<&'static str, &'q str>, ApiError> {
        let mut given: HashMap<&'static str, &str> = HashMap::new();
        for (name, value) in &self.0 {
            let Some(known) = names.iter().copied().find(|n| n.eq_ignore_ascii_case(name)) else {
                continue;
            };
            match given.insert(known, value) {
                Some(other) if other.trim() != value.trim() => {
                    return Err(ApiError::app(
                        ErrorCode::Default,
                        format!("{known} is given more than once."),
                    ))
                }
                _ => {}
            }
        }
        Ok(given)
    }
}

impl FromIterator<(String, String)> for Query {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self(pairs.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 4] = ["page", "pagesize", "id", "token"];

    #[test]
    fn a_known_parameter_repeated_with_another_value_is_refused_in_any_case() {
        for raw in [
            "pagesize=1&pagesize=2",
            "id=a&id=b",
            "token=bogus&token=good",
            "page=1&PAGE=2",
            "TOKEN=good&token=bogus",
        ] {
            let err = Query::parse(raw).known(&NAMES).unwrap_err();
            assert_eq!(err.code(), Some(ErrorCode::Default), "{raw}");
            assert!(err.to_string().contains("is given more than once"), "{raw}");
        }
    }

    #[test]
    fn names_match_in_any_case_a_repeat_of_one_value_counts_once_and_unknown_names_are_ignored() {
        for raw in [
            "token=t",
            "TOKEN=t",
            "Token=t",
            "TOKEN=t&token=t",
            "token=t&TOKEN=%20t",
            "foo=1&foo=2&token=t&FOO=3",
        ] {
            let query = Query::parse(raw);
            let given = query.known(&NAMES).unwrap();
            assert_eq!(given.get("token").map(|t| t.trim()), Some("t"), "{raw}");
            assert_eq!(given.len(), 1, "{raw}");
        }
    }
}
