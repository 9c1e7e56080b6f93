//! The fine-grained access control master user, read from AWS Secrets Manager: a secret
//! whose string is `{"username": "...", "password": "..."}` (the stack generates it; the
//! password never appears in the template, the logs or the outputs).

use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::{Auth, SetupError};

/// Reads the secret `secret_id` (ARN or name) and returns the master user it holds.
/// `endpoint` overrides the Secrets Manager endpoint (tests, local runs).
pub async fn master_user(
    config: &aws_config::SdkConfig,
    secret_id: &str,
    endpoint: Option<&str>,
) -> Result<Auth, SetupError> {
    let mut builder = aws_sdk_secretsmanager::config::Builder::from(config);
    if let Some(url) = endpoint {
        builder = builder.endpoint_url(url);
    }
    let client = aws_sdk_secretsmanager::Client::from_conf(builder.build());
    let failed = |reason: String| SetupError::Secret {
        arn: secret_id.to_string(),
        reason,
    };
    let answer = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| failed(DisplayErrorContext(&e).to_string()))?;
    let text = answer
        .secret_string()
        .ok_or_else(|| failed("the secret holds binary data, not a JSON string".into()))?;
    parse(text).map_err(failed)
}

/// The master user in a secret's string.
pub fn parse(text: &str) -> Result<Auth, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| "the secret is not JSON with username and password".to_string())?;
    let field = |name: &str| {
        value[name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(String::from)
            .ok_or_else(|| format!("the secret has no {name}"))
    };
    Ok(Auth::Master {
        username: field("username")?,
        password: field("password")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_holds_both_fields() {
        match parse(r#"{"username":"admin","password":"p@ss"}"#).unwrap() {
            Auth::Master { username, password } => {
                assert_eq!((username.as_str(), password.as_str()), ("admin", "p@ss"))
            }
            Auth::Iam => panic!("expected the master user"),
        }
        assert_eq!(
            parse(r#"{"username":"admin"}"#).unwrap_err(),
            "the secret has no password"
        );
        let err = parse("hunter2").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
