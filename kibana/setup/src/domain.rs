//! Calls to an OpenSearch Service domain: its REST API at the endpoint and OpenSearch
//! Dashboards under `/_dashboards`. Every request is authenticated (SigV4 for service
//! `es` in the domain's region, signed with `aws-sigv4` over the exact bytes sent; or HTTP
//! basic as the fine-grained access control master user), bounded (connect and per-request
//! timeouts, the caller's deadline) and retried on transient failures through
//! [`crate::retry::until`].

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use reqwest::Method;
use serde_json::Value;

use crate::retry::{until, Verdict};
use crate::SetupError;

/// How requests to the domain authenticate.
#[derive(Clone)]
pub enum Auth {
    /// SigV4-signed with the default AWS credential chain (a domain whose access policy
    /// names IAM principals).
    Iam,
    /// HTTP basic as the internal master user (fine-grained access control); SigV4 is still
    /// used for [`Domain::signed`] calls.
    Master {
        /// The master user's name.
        username: String,
        /// Its password (never logged).
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Iam => f.write_str("Iam"),
            Auth::Master { username, .. } => write!(f, "Master({username}, password hidden)"),
        }
    }
}

/// Where the domain is and how long calls may take.
#[derive(Debug, Clone)]
pub struct DomainOptions {
    /// The domain endpoint: `https://HOST` (a bare host means https).
    pub endpoint: String,
    /// OpenSearch Dashboards' base URL (default: the endpoint plus `/_dashboards`, as on
    /// Amazon OpenSearch Service).
    pub dashboards_url: Option<String>,
    /// The region requests are signed for.
    pub region: String,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one request and its answer.
    pub request_timeout: Duration,
    /// How long connections may keep failing before the endpoint counts as wrong rather
    /// than not yet up.
    pub unreachable_after: Duration,
}

impl DomainOptions {
    /// Options for `endpoint` in `region` with the default timeouts (5 s to connect, 30 s
    /// per request, 30 s of failing connections before the endpoint counts as unreachable).
    pub fn new(endpoint: &str, region: &str) -> Self {
        DomainOptions {
            endpoint: endpoint.to_string(),
            dashboards_url: None,
            region: region.to_string(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            unreachable_after: Duration::from_secs(30),
        }
    }
}

/// The region in an Amazon OpenSearch Service endpoint
/// (`search-NAME-ID.REGION.es.amazonaws.com`), if it is one.
pub fn region_of_endpoint(endpoint: &str) -> Option<String> {
    let host = host_of(endpoint);
    let rest = host.strip_suffix(".es.amazonaws.com")?;
    let region = rest.rsplit('.').next()?;
    (!region.is_empty() && region.contains('-')).then(|| region.to_string())
}

fn host_of(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.split(['/', ':']).next().unwrap_or(rest)
}

/// An answer from the domain.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`what` names the call in the error).
    pub fn json(&self, what: &str) -> Result<Value, SetupError> {
        serde_json::from_slice(&self.body).map_err(|e| SetupError::BadAnswer {
            what: what.to_string(),
            reason: format!("not JSON ({e}): {}", self.text()),
        })
    }

    /// The start of the body, for messages.
    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(300) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_string(),
        }
    }

    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One request: what it is for (named in errors), method, path and body.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// What the call does, for messages (`put the index template`).
    pub what: &'a str,
    /// The method.
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// The body (empty for none).
    pub body: Vec<u8>,
    /// Extra headers (content type, `osd-xsrf`, tenant), signed with the rest.
    pub headers: Vec<(&'static str, String)>,
}

/// A domain to set up.
pub struct Domain {
    http: reqwest::Client,
    endpoint: String,
    dashboards: String,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
    auth: Auth,
    request_timeout: Duration,
    unreachable_after: Duration,
}

impl Domain {
    /// A client for the domain. `credentials` sign SigV4 requests; they are required with
    /// [`Auth::Iam`].
    pub fn new(
        options: &DomainOptions,
        auth: Auth,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Result<Self, SetupError> {
        let endpoint = normalise(&options.endpoint)?;
        let dashboards = match &options.dashboards_url {
            Some(url) => normalise(url)?,
            None => format!("{endpoint}/_dashboards"),
        };
        if matches!(auth, Auth::Iam) && credentials.is_none() {
            return Err(SetupError::Credentials(
                "signing needs credentials and none were given".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .build()
            .map_err(|e| SetupError::Config(format!("cannot build an HTTP client: {e}")))?;
        Ok(Domain {
            http,
            endpoint,
            dashboards,
            region: options.region.clone(),
            credentials,
            auth,
            request_timeout: options.request_timeout,
            unreachable_after: options.unreachable_after,
        })
    }

    /// The endpoint, `https://HOST`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// OpenSearch Dashboards' base URL.
    pub fn dashboards(&self) -> &str {
        &self.dashboards
    }

    /// Whether requests go as the fine-grained access control master user.
    pub fn fine_grained(&self) -> bool {
        matches!(self.auth, Auth::Master { .. })
    }

    /// A call to the REST API at `path` (starting with `/`).
    pub fn api(&self, what: &'static str, method: Method, path: &str) -> Call<'static> {
        Call {
            what,
            method,
            url: format!("{}{path}", self.endpoint),
            body: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// A call to Dashboards at `path` (starting with `/`), with the `osd-xsrf` header it
    /// requires and, under fine-grained access control, the global tenant (the one every
    /// user sees).
    pub fn dashboards_call(&self, what: &'static str, method: Method, path: &str) -> Call<'static> {
        let mut headers = vec![("osd-xsrf", "true".to_string())];
        if self.fine_grained() {
            headers.push(("securitytenant", "global".to_string()));
        }
        Call {
            what,
            method,
            url: format!("{}{path}", self.dashboards),
            body: Vec::new(),
            headers,
        }
    }

    /// Sends `call` with the domain's authentication, retrying transient failures until
    /// `deadline`. Any status that is not transient comes back as a [`Reply`].
    pub async fn send(&self, call: &Call<'_>, deadline: Instant) -> Result<Reply, SetupError> {
        self.send_as(call, deadline, false).await
    }

    /// Sends `call` SigV4-signed whatever the domain's authentication (to check what an
    /// IAM role mapped under fine-grained access control may do).
    pub async fn signed(&self, call: &Call<'_>, deadline: Instant) -> Result<Reply, SetupError> {
        self.send_as(call, deadline, true).await
    }

    async fn send_as(
        &self,
        call: &Call<'_>,
        deadline: Instant,
        force_sigv4: bool,
    ) -> Result<Reply, SetupError> {
        let identity = match (&self.auth, force_sigv4) {
            (Auth::Iam, _) | (_, true) => Some(self.identity().await?),
            _ => None,
        };
        let failing_since = Cell::new(None::<Instant>);
        let unreachable_after = self.unreachable_after;
        until(call.what, deadline, |left| {
            let identity = identity.clone();
            let failing_since = &failing_since;
            async move {
                let request = match self.build(call, identity.as_ref(), left) {
                    Ok(r) => r,
                    Err(e) => return Verdict::Fail(e),
                };
                match self.http.execute(request).await {
                    Err(e) if e.is_connect() => {
                        let since = failing_since.get().unwrap_or_else(Instant::now);
                        failing_since.set(Some(since));
                        if since.elapsed() >= unreachable_after {
                            Verdict::Fail(SetupError::Unreachable {
                                what: call.what.to_string(),
                                url: call.url.clone(),
                                reason: describe(&e),
                            })
                        } else {
                            Verdict::Retry(describe(&e))
                        }
                    }
                    Err(e) => Verdict::Retry(describe(&e)),
                    Ok(response) => {
                        let status = response.status().as_u16();
                        match response.bytes().await {
                            Err(e) => Verdict::Retry(describe(&e)),
                            Ok(_) if matches!(status, 429 | 502 | 503 | 504) => {
                                Verdict::Retry(format!("HTTP {status}"))
                            }
                            Ok(body) => Verdict::Done(Reply {
                                status,
                                body: body.to_vec(),
                            }),
                        }
                    }
                }
            }
        })
        .await
    }

    async fn identity(&self) -> Result<Identity, SetupError> {
        let provider = self.credentials.as_ref().ok_or_else(|| {
            SetupError::Credentials("signing needs credentials and none were given".into())
        })?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| SetupError::Credentials(error_chain(&e)))?;
        Ok(credentials.into())
    }

    fn build(
        &self,
        call: &Call<'_>,
        identity: Option<&Identity>,
        left: Duration,
    ) -> Result<reqwest::Request, SetupError> {
        let mut builder = self
            .http
            .request(call.method.clone(), &call.url)
            .timeout(left.min(self.request_timeout));
        for (name, value) in &call.headers {
            builder = builder.header(*name, value);
        }
        match identity {
            Some(identity) => {
                let headers: Vec<(&str, &str)> =
                    call.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
                for (name, value) in self.sign(call, &headers, identity)? {
                    builder = builder.header(name, value);
                }
            }
            None => {
                if let Auth::Master { username, password } = &self.auth {
                    builder = builder.basic_auth(username, Some(password));
                }
            }
        }
        builder
            .body(call.body.clone())
            .build()
            .map_err(|e| SetupError::Config(format!("{}: bad request: {e}", call.what)))
    }

    /// The SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`) for `call`.
    fn sign(
        &self,
        call: &Call<'_>,
        headers: &[(&str, &str)],
        identity: &Identity,
    ) -> Result<Vec<(String, String)>, SetupError> {
        let failed = |e: &dyn std::fmt::Display| {
            SetupError::Config(format!("{}: cannot sign the request: {e}", call.what))
        };
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(&self.region)
            .name("es")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| failed(&e))?
            .into();
        let signable = SignableRequest::new(
            call.method.as_str(),
            &call.url,
            headers.iter().copied(),
            SignableBody::Bytes(&call.body),
        )
        .map_err(|e| failed(&e))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| failed(&e))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect())
    }
}

fn normalise(url: &str) -> Result<String, SetupError> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let rest = rest.trim_end_matches('/');
    let url = format!("{scheme}://{rest}");
    match reqwest::Url::parse(&url) {
        Ok(u)
            if !rest.is_empty()
                && matches!(u.scheme(), "https" | "http")
                && u.host_str().is_some() =>
        {
            Ok(url)
        }
        _ => Err(SetupError::Config(format!(
            "the domain endpoint {url:?} is not an https://HOST URL"
        ))),
    }
}

/// A transport error in one line, with its causes.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "no answer within the request timeout"
    } else {
        "transport error"
    };
    format!("{kind}: {}", error_chain(e))
}

/// An error and its sources, joined with `: `.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_come_from_service_endpoints() {
        assert_eq!(
            region_of_endpoint("https://search-social-abc123.eu-west-1.es.amazonaws.com"),
            Some("eu-west-1".into())
        );
        assert_eq!(
            region_of_endpoint("search-x-y.us-east-1.es.amazonaws.com/"),
            Some("us-east-1".into())
        );
        assert_eq!(region_of_endpoint("http://127.0.0.1:9200"), None);
        assert_eq!(region_of_endpoint("https://opensearch.example.com"), None);
    }

    #[test]
    fn endpoints_are_urls() {
        assert_eq!(normalise("host.example/").unwrap(), "https://host.example");
        assert_eq!(
            normalise("http://127.0.0.1:9200").unwrap(),
            "http://127.0.0.1:9200"
        );
        assert!(normalise("").is_err());
        assert!(normalise("ftp://x").is_err());
        assert!(normalise("https://").is_err());
    }

    #[test]
    fn iam_auth_needs_credentials_and_passwords_stay_hidden() {
        let options = DomainOptions::new("https://x.example", "eu-west-1");
        assert!(matches!(
            Domain::new(&options, Auth::Iam, None),
            Err(SetupError::Credentials(_))
        ));
        let auth = Auth::Master {
            username: "admin".into(),
            password: "s3cret!".into(),
        };
        assert!(!format!("{auth:?}").contains("s3cret"));
        let d = Domain::new(&options, auth, None).unwrap();
        assert_eq!(d.dashboards(), "https://x.example/_dashboards");
        let call = d.dashboards_call("t", Method::GET, "/api/status");
        assert!(call
            .headers
            .contains(&("securitytenant", "global".to_string())));
    }
}
