//! The filters this service answers (RFC 7644 §3.4.2.2): one attribute compared
//! with `eq` to a string, `userName eq "ada@example.com"`, which is what identity
//! providers send to find an account before creating it. Anything else is refused
//! with `invalidFilter`, never answered with a wrong list.

use super::error::ScimError;

/// `attribute eq "value"`, the attribute's name as written (compare it without
/// letter case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equality {
    pub attribute: String,
    pub value: String,
}

impl Equality {
    /// Whether the filter names `attribute` (any letter case, with or without the
    /// core schema's URN in front).
    pub fn is(&self, attribute: &str) -> bool {
        let name = self
            .attribute
            .rsplit_once(':')
            .map_or(self.attribute.as_str(), |(_, name)| name);
        name.eq_ignore_ascii_case(attribute)
    }
}

/// Parses `attribute eq "value"` (JSON string escapes allowed in the value).
pub fn parse(raw: &str) -> Result<Equality, ScimError> {
    let unsupported = || {
        ScimError::bad_request(
            "invalidFilter",
            format!("unsupported filter {raw:?}: only `attribute eq \"value\"` is supported"),
        )
    };
    let raw = raw.trim();
    let (attribute, rest) = raw
        .split_once(char::is_whitespace)
        .ok_or_else(unsupported)?;
    let rest = rest.trim_start();
    let (operator, value) = rest
        .split_once(char::is_whitespace)
        .ok_or_else(unsupported)?;
    if !operator.eq_ignore_ascii_case("eq") || attribute.is_empty() {
        return Err(unsupported());
    }
    let value: String = match serde_json::from_str(value.trim()) {
        Ok(serde_json::Value::String(value)) => value,
        _ => return Err(unsupported()),
    };
    if !attribute
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '_' | '-' | '$'))
    {
        return Err(unsupported());
    }
    Ok(Equality {
        attribute: attribute.to_owned(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_equality_on_a_string_is_read() {
        let filter = parse(r#"userName eq "ada@example.com""#).unwrap();
        assert!(filter.is("username"));
        assert_eq!(filter.value, "ada@example.com");
        let filter =
            parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName Eq "a\"b""#).unwrap();
        assert!(filter.is("userName"));
        assert_eq!(filter.value, "a\"b");
    }

    #[test]
    fn every_other_filter_is_refused_as_invalid() {
        for bad in [
            "",
            "userName",
            r#"userName co "ada""#,
            r#"userName eq ada"#,
            r#"userName eq "ada" and active eq true"#,
            r#"emails[type eq "work"] eq "x""#,
            "active eq true",
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.scim_type, Some("invalidFilter"), "{bad:?}");
        }
    }
}
