//! The domain setup (`kibana/setup`) against real and faithful servers on 127.0.0.1:
//! osmem-server for the index template, mappings and documents, and
//! `tests/domain_server.py` in front of it for what osmem-server lacks (SigV4 checked with
//! botocore, the security plugin, ISM, the Dashboards saved-objects API, CloudFormation's
//! response URL); moto for Secrets Manager. Driven as a library, as the custom resource
//! (Create / Update / Delete requests) and with faults at every step.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
use std::time::{Duration, Instant};

use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use reqwest::Method;
use search_setup::custom_resource::{self, Request};
use search_setup::domain::Call;
use search_setup::{assets, run, Auth, Change, Domain, DomainOptions, Plan, SetupError, Step};
use serde_json::{json, Value};
use test_support::servers::{self, ServerProcess};
use test_support::{expected, root};

const REGION: &str = "eu-west-1";
const ADMIN: Key = Key(
    "AKIDADMIN",
    "admin-secret",
    "arn:aws:iam::123456789012:role/admin",
);
const FIREHOSE: Key = Key(
    "AKIDFIREHOSE",
    "firehose-secret",
    "arn:aws:iam::123456789012:role/social-sentiment-firehose",
);
const SETUP: Key = Key(
    "AKIDSETUP",
    "setup-secret",
    "arn:aws:iam::123456789012:role/social-sentiment-setup",
);
const MASTER_PASSWORD: &str = "Adm1n-Pa55-word!";

/// An access key, its secret, and the IAM principal it belongs to.
#[derive(Clone, Copy)]
struct Key(&'static str, &'static str, &'static str);

impl Key {
    fn arg(self) -> String {
        format!("{}:{}:{}", self.0, self.1, self.2)
    }

    fn provider(self) -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(Credentials::new(self.0, self.1, None, None, "test"))
    }
}

struct Servers {
    osmem: ServerProcess,
    domain: ServerProcess,
}

fn iam_servers(extra: &[&str]) -> Servers {
    let osmem = servers::opensearch();
    let mut args = vec![
        "--region".to_string(),
        REGION.to_string(),
        "--key".into(),
        ADMIN.arg(),
    ];
    args.extend(["--key".into(), FIREHOSE.arg()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--allow".into(), ADMIN.2.into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let domain = servers::domain(&osmem.url, &refs);
    Servers { osmem, domain }
}

fn fgac_servers(extra: &[&str]) -> Servers {
    let osmem = servers::opensearch();
    let master = format!("admin:{MASTER_PASSWORD}");
    let mut args: Vec<String> = vec![
        "--region".into(),
        REGION.into(),
        "--fine-grained".into(),
        "--master".into(),
        master,
    ];
    for key in [ADMIN, FIREHOSE, SETUP] {
        args.extend(["--key".into(), key.arg()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let domain = servers::domain(&osmem.url, &refs);
    Servers { osmem, domain }
}

fn signed_domain(url: &str, key: Key) -> Domain {
    Domain::new(
        &DomainOptions::new(url, REGION),
        Auth::Iam,
        Some(key.provider()),
    )
    .unwrap()
}

fn master_domain(url: &str, password: &str) -> Domain {
    let auth = Auth::Master {
        username: "admin".into(),
        password: password.into(),
    };
    Domain::new(
        &DomainOptions::new(url, REGION),
        auth,
        Some(SETUP.provider()),
    )
    .unwrap()
}

fn soon(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

async fn get(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn state(server: &ServerProcess) -> Value {
    get(&format!("{}/_test/state", server.url)).await
}

/// The fixture documents (`fixtures/expected/basic.ndjson`) as a `_bulk` body for `index`.
fn bulk_body(index: &str) -> (Vec<u8>, usize) {
    let mut body = String::new();
    let mut n = 0;
    for (i, record) in expected("basic").iter().enumerate() {
        if let Some(doc) = &record.document {
            body.push_str(
                &json!({"index": {"_index": index, "_id": format!("doc-{i}")}}).to_string(),
            );
            body.push('\n');
            body.push_str(&doc.to_string());
            body.push('\n');
            n += 1;
        }
    }
    (body.into_bytes(), n)
}

fn bulk_call(domain: &Domain, index: &str) -> (Call<'static>, usize) {
    let (body, n) = bulk_body(index);
    let mut call = domain.api("deliver documents", Method::POST, "/_bulk");
    call.body = body;
    call.headers
        .push(("content-type", "application/x-ndjson".into()));
    (call, n)
}

fn changes(report: &search_setup::Report) -> Vec<(Step, Change)> {
    report
        .steps
        .iter()
        .map(|s| (s.step, s.change.clone()))
        .collect()
}

fn skipped() -> Change {
    Change::Skipped(String::new())
}

/// Steps with `Skipped` reasons blanked, for comparing.
fn shape(report: &search_setup::Report) -> Vec<(Step, Change)> {
    changes(report)
        .into_iter()
        .map(|(s, c)| match c {
            Change::Skipped(_) => (s, skipped()),
            c => (s, c),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_domain_is_set_up_once_and_a_second_run_changes_nothing() {
    let s = iam_servers(&[]);
    let domain = signed_domain(&s.domain.url, ADMIN);
    let plan = Plan::new();

    let report = run(&domain, &plan, soon(60)).await.unwrap();
    assert_eq!(
        shape(&report),
        [
            (Step::Connect, Change::Checked),
            (Step::Security, skipped()),
            (Step::Retention, Change::Created),
            (Step::Template, Change::Created),
            (Step::Dashboards, Change::Created),
        ]
    );
    assert_eq!(
        report.dashboard_url,
        format!(
            "{}/_dashboards/app/dashboards#/view/cats-vs-dogs",
            s.domain.url
        )
    );

    // What the domain holds: the policy, the saved objects (every one, as in the file).
    let st = state(&s.domain).await;
    let policy = &st["policies"]["social-posts-retention"]["policy"];
    assert_eq!(
        policy["states"][0]["transitions"][0]["conditions"]["min_index_age"],
        "30d"
    );
    assert_eq!(
        policy["ism_template"][0]["index_patterns"],
        json!(["social-posts*"])
    );
    let stored = st["objects"]["global"].as_object().unwrap();
    let objects = assets::saved_objects("social-posts");
    assert_eq!(stored.len(), objects.len());
    for o in &objects {
        let have = &stored[&format!("{}/{}", o.kind, o.id)];
        assert_eq!(
            have["attributes"], o.object["attributes"],
            "{}/{}",
            o.kind, o.id
        );
    }
    // The template, read from osmem-server itself.
    let template = get(&format!("{}/_index_template/social-posts", s.osmem.url)).await;
    let t = &template["index_templates"][0]["index_template"];
    assert_eq!(
        t["template"]["settings"]["index"]["auto_expand_replicas"],
        "0-1"
    );
    assert_eq!(t["template"]["mappings"]["dynamic"], "strict");

    // Documents delivered afterwards are mapped by the template and managed by the policy.
    let (bulk, n) = bulk_call(&domain, "social-posts-2023-03-14");
    let reply = domain.send(&bulk, soon(30)).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json("bulk").unwrap()["errors"], false);
    let mapping = get(&format!("{}/social-posts-2023-03-14/_mapping", s.osmem.url)).await;
    let props = &mapping["social-posts-2023-03-14"]["mappings"]["properties"];
    for field in ["categories", "category", "lang", "hashtags"] {
        assert_eq!(props[field]["type"], "keyword", "{field}");
    }
    assert_eq!(props["sentiment"]["properties"]["label"]["type"], "keyword");
    let count = reqwest::Client::new()
        .post(format!("{}/social-posts*/_count", s.osmem.url))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(count["count"], n);
    let st = state(&s.domain).await;
    assert_eq!(
        st["managed"]["social-posts-2023-03-14"],
        "social-posts-retention"
    );

    // Again: nothing changes, and it says so.
    let again = run(&domain, &plan, soon(60)).await.unwrap();
    assert_eq!(
        shape(&again),
        [
            (Step::Connect, Change::Checked),
            (Step::Security, skipped()),
            (Step::Retention, Change::Unchanged),
            (Step::Template, Change::Unchanged),
            (Step::Dashboards, Change::Unchanged),
        ]
    );
    assert_eq!(
        again.summary(),
        "setup: the domain was already set up; nothing changed"
    );

    // Every request the domain saw was signed by the admin role and verified.
    let log = get(&format!("{}/_test/log", s.domain.url)).await;
    let log = log.as_array().unwrap();
    assert!(log.len() > 10);
    assert!(
        log.iter()
            .all(|e| e["principal"] == ADMIN.2 && e["error"].is_null()),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_settings_are_updated_and_existing_indices_attached() {
    let s = iam_servers(&[]);
    let domain = signed_domain(&s.domain.url, ADMIN);
    // An index that a record created before any setup: dynamic mapping, no policy.
    let early = "social-posts-2026-11-30";
    let reply = reqwest::Client::new()
        .put(format!("{}/{early}/_doc/1", s.osmem.url))
        .json(&json!({"categories": ["cats"], "text": "first"}))
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success());

    let mut plan = Plan::new();
    plan.retention_days = 7;
    let report = run(&domain, &plan, soon(60)).await.unwrap();
    let retention = &report.steps[2];
    assert_eq!(retention.change, Change::Created);
    assert!(
        retention.detail.contains("7 days")
            && retention.detail.contains("1 existing indices attached"),
        "{}",
        retention.detail
    );
    let template = &report.steps[3];
    assert!(
        template
            .detail
            .contains(&format!("WARNING: {early} created before the template")),
        "{}",
        template.detail
    );
    assert_eq!(
        state(&s.domain).await["managed"][early],
        "social-posts-retention"
    );

    // 7 -> 30 days: the policy is updated in place (sequence numbers), managed indices moved.
    plan.retention_days = 30;
    let report = run(&domain, &plan, soon(60)).await.unwrap();
    assert_eq!(report.steps[2].change, Change::Updated);
    assert_eq!(report.steps[3].change, Change::Unchanged);
    let st = state(&s.domain).await;
    assert_eq!(st["policies"]["social-posts-retention"]["seq_no"], 1);
    assert_eq!(
        st["policies"]["social-posts-retention"]["policy"]["states"][0]["transitions"][0]
            ["conditions"]["min_index_age"],
        "30d"
    );
    // A saved object edited in Dashboards is put back.
    let mut edited = assets::saved_objects("social-posts")[1].object.clone();
    edited["attributes"]["title"] = json!("edited by hand");
    let form = format!(
        "--b\r\ncontent-disposition: form-data; name=\"file\"; filename=\"x.ndjson\"\r\ncontent-type: application/ndjson\r\n\r\n{edited}\r\n--b--\r\n"
    );
    let mut call = domain.dashboards_call(
        "edit",
        Method::POST,
        "/api/saved_objects/_import?overwrite=true",
    );
    call.body = form.into_bytes();
    call.headers
        .push(("content-type", "multipart/form-data; boundary=b".into()));
    assert!(domain.send(&call, soon(10)).await.unwrap().ok());
    let report = run(&domain, &plan, soon(60)).await.unwrap();
    assert_eq!(report.steps[4].change, Change::Updated);
    let st = state(&s.domain).await;
    let key = format!(
        "visualization/{}",
        assets::saved_objects("social-posts")[1].id
    );
    assert_ne!(
        st["objects"]["global"][&key]["attributes"]["title"],
        "edited by hand"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fine_grained_access_control_maps_the_firehose_role_and_imports_to_the_global_tenant() {
    let s = fgac_servers(&[]);
    // The master user's secret, in Secrets Manager (moto), as the stack generates it.
    let moto = servers::s3();
    let aws = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(SETUP.provider())
        .build();
    let sm = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&aws)
            .endpoint_url(&moto.url)
            .build(),
    );
    let secret = sm
        .create_secret()
        .name("social-sentiment-dev-master-user")
        .secret_string(json!({"username": "admin", "password": MASTER_PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    let auth = search_setup::secret::master_user(&aws, secret.arn().unwrap(), Some(&moto.url))
        .await
        .unwrap();
    let domain = Domain::new(
        &DomainOptions::new(&s.domain.url, REGION),
        auth,
        Some(SETUP.provider()),
    )
    .unwrap();

    // Before setup the Firehose role may not write: unmapped.
    let firehose = signed_domain(&s.domain.url, FIREHOSE);
    let (bulk, n) = bulk_call(&firehose, "social-posts-2023-03-14");
    let denied = firehose.send(&bulk, soon(10)).await.unwrap();
    assert_eq!(denied.status, 403);
    assert!(
        denied.text().contains("security_exception"),
        "{}",
        denied.text()
    );

    let mut plan = Plan::new();
    plan.map_roles = vec![FIREHOSE.2.to_string()];
    plan.own_role = Some(SETUP.2.to_string());
    let report = run(&domain, &plan, soon(60)).await.unwrap();
    assert_eq!(report.steps[1].step, Step::Security);
    assert_eq!(report.steps[1].change, Change::Created);
    let st = state(&s.domain).await;
    assert_eq!(
        st["roles"][assets::DELIVERY_ROLE],
        assets::delivery_role("social-posts")
    );
    assert_eq!(
        st["rolesmapping"][assets::DELIVERY_ROLE]["backend_roles"],
        json!([FIREHOSE.2, SETUP.2])
    );
    // The dashboards are in the global tenant, the one every user (and the master) sees.
    assert_eq!(
        st["objects"]["global"].as_object().unwrap().len(),
        assets::saved_objects("social-posts").len()
    );

    // Firehose now delivers, with exactly the delivery role's permissions.
    let delivered = firehose.send(&bulk, soon(10)).await.unwrap();
    assert_eq!(delivered.status, 200, "{}", delivered.text());
    let items = delivered.json("bulk").unwrap();
    assert_eq!(items["errors"], false);
    assert_eq!(items["items"].as_array().unwrap().len(), n);
    // ... and nothing more: it may not change the template.
    let mut template = firehose.api("put a template", Method::PUT, "/_index_template/x");
    template.body = b"{\"index_patterns\":[\"x*\"]}".to_vec();
    template
        .headers
        .push(("content-type", "application/json".into()));
    assert_eq!(
        firehose.send(&template, soon(10)).await.unwrap().status,
        403
    );
    // Anonymous requests are refused.
    let anonymous = reqwest::get(format!("{}/", s.domain.url)).await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let again = run(&domain, &plan, soon(60)).await.unwrap();
    assert!(!again.changed(), "{again}");
    assert_eq!(again.steps[1].change, Change::Unchanged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_that_claims_success_but_stores_nothing_fails_setup() {
    let s = iam_servers(&["--fault", "/_dashboards/api/saved_objects/_import=lie"]);
    let domain = signed_domain(&s.domain.url, ADMIN);
    let failure = run(&domain, &Plan::new(), soon(60)).await.unwrap_err();
    assert_eq!(failure.step, Step::Dashboards);
    let total = assets::saved_objects("social-posts").len();
    match &failure.error {
        SetupError::ImportIncomplete {
            count,
            total: t,
            names,
        } => {
            assert_eq!((*count, *t), (total, total));
            assert!(names.contains("dashboard/cats-vs-dogs"), "{names}");
        }
        other => panic!("expected ImportIncomplete, got {other}"),
    }
    assert_eq!(
        failure.reason(),
        format!(
            "dashboards failed: saved objects import reported success, but {total} of {total} objects are missing or different when read back: {}; applied before it: retention created, index template created",
            match &failure.error {
                SetupError::ImportIncomplete { names, .. } => names.clone(),
                _ => unreachable!(),
            }
        )
    );
}

fn cfn_request(kind: &str, domain: &ServerProcess, props: Value, id: &str) -> Request {
    serde_json::from_value(servers::cfn_request(kind, &domain.url, props, id)).unwrap()
}

fn lambda_aws(key: Key) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(key.provider())
        .build()
}

async fn cfn_answers(domain: &ServerProcess) -> Vec<Value> {
    servers::cfn_answers(&domain.url).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_custom_resource_answers_create_update_and_delete() {
    let s = iam_servers(&[]);
    let aws = lambda_aws(ADMIN);

    let create = cfn_request("Create", &s.domain, json!({}), "req-create");
    let answered = custom_resource::answer(&create, &aws, soon(60))
        .await
        .unwrap();
    assert_eq!(answered.status, "SUCCESS", "{}", answered.reason);
    let update = cfn_request(
        "Update",
        &s.domain,
        json!({"RetentionDays": "7"}),
        "req-update",
    );
    let updated = custom_resource::answer(&update, &aws, soon(60))
        .await
        .unwrap();
    let delete = cfn_request("Delete", &s.domain, json!({}), "req-delete");
    custom_resource::answer(&delete, &aws, soon(60))
        .await
        .unwrap();

    // What CloudFormation received, through its response URL.
    let answers = cfn_answers(&s.domain).await;
    assert_eq!(answers.len(), 3);
    let id = servers::cfn_physical_id(&s.domain.url);
    assert_eq!(answers[0]["Status"], "SUCCESS");
    assert_eq!(answers[0]["PhysicalResourceId"], id);
    assert_eq!(answers[0]["RequestId"], "req-create");
    assert_eq!(answers[0]["LogicalResourceId"], "SearchSetup");
    assert_eq!(answers[0]["Reason"], servers::SET_UP_FRESH);
    assert_eq!(
        answers[0]["Data"]["DashboardsUrl"],
        servers::dashboard_url(&s.domain.url)
    );
    assert_eq!(answers[1]["Status"], "SUCCESS");
    assert_eq!(answers[1]["Reason"], "setup: retention updated");
    assert_eq!(updated.physical_resource_id, id);
    assert_eq!(answers[2]["Status"], "SUCCESS");
    assert_eq!(answers[2]["PhysicalResourceId"], id);
    assert!(answers[2]["Reason"]
        .as_str()
        .unwrap()
        .starts_with("nothing removed"));
    let st = state(&s.domain).await;
    assert_eq!(
        st["policies"]["social-posts-retention"]["policy"]["states"][0]["transitions"][0]
            ["conditions"]["min_index_age"],
        "7d"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_at_any_step_is_answered_failed_with_the_reason_before_the_deadline() {
    // (fault path, kind, the step named in the reason)
    let cases = [
        (
            "/_plugins/_ism/policies",
            "500",
            "retention failed: read the retention policy: HTTP 500",
        ),
        (
            "/_index_template",
            "500",
            "index template failed: read the index template: HTTP 500",
        ),
        (
            "/_dashboards/api/status",
            "503",
            "dashboards failed: check OpenSearch Dashboards: no usable answer before the deadline",
        ),
        (
            "/_dashboards/api/saved_objects/_import",
            "hang",
            "dashboards failed: import the saved objects: no usable answer before the deadline",
        ),
    ];
    for (path, kind, reason) in cases {
        let s = iam_servers(&["--fault", &format!("{path}={kind}")]);
        let request = cfn_request("Create", &s.domain, json!({}), "req-1");
        let started = Instant::now();
        // The function's deadline: 25 s; setup keeps 10 s back to answer.
        custom_resource::answer(
            &request,
            &lambda_aws(ADMIN),
            started + Duration::from_secs(25),
        )
        .await
        .unwrap();
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(25),
            "{path}: answered after {took:?}"
        );
        let answers = cfn_answers(&s.domain).await;
        assert_eq!(answers.len(), 1, "{path}");
        assert_eq!(answers[0]["Status"], "FAILED", "{path}");
        let text = answers[0]["Reason"].as_str().unwrap();
        assert!(text.starts_with(reason), "{path}: {text}");
        if path.starts_with("/_dashboards") {
            assert!(
                text.contains("applied before it: retention created, index template created"),
                "{text}"
            );
        }
    }
}

/// Credentials that cannot be found (as the default chain with nothing configured).
#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(
            aws_credential_types::provider::error::CredentialsError::not_loaded(
                "no providers in chain provided credentials",
            ),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_with_one_line_naming_what_to_fix() {
    let s = iam_servers(&[]);
    let plan = Plan::new();

    // A wrong endpoint: nothing listens there.
    let port = test_support::free_port();
    let mut options = DomainOptions::new(&format!("http://127.0.0.1:{port}"), REGION);
    options.unreachable_after = Duration::from_secs(1);
    let wrong = Domain::new(&options, Auth::Iam, Some(ADMIN.provider())).unwrap();
    let f = run(&wrong, &plan, soon(30)).await.unwrap_err();
    assert_eq!(f.step, Step::Connect);
    let text = f.reason();
    assert!(
        text.starts_with("connect failed: connect to the domain: cannot reach"),
        "{text}"
    );
    assert!(
        text.contains("nothing was changed before it") && !text.contains('\n'),
        "{text}"
    );

    // Missing credentials.
    let none = Domain::new(
        &DomainOptions::new(&s.domain.url, REGION),
        Auth::Iam,
        Some(SharedCredentialsProvider::new(NoCredentials)),
    )
    .unwrap();
    let f = run(&none, &plan, soon(30)).await.unwrap_err();
    assert!(matches!(f.error, SetupError::Credentials(_)), "{}", f.error);
    assert!(
        f.reason()
            .contains("no AWS credentials to sign requests with"),
        "{}",
        f.reason()
    );

    // Credentials the access policy does not allow.
    let other = signed_domain(&s.domain.url, FIREHOSE);
    let f = run(&other, &plan, soon(30)).await.unwrap_err();
    assert!(
        matches!(f.error, SetupError::Denied { status: 403, .. }),
        "{}",
        f.error
    );
    assert!(
        f.reason()
            .contains("is not authorized to perform: es:ESHttpGet"),
        "{}",
        f.reason()
    );

    // A domain without Dashboards.
    let bare = iam_servers(&["--no-dashboards"]);
    let f = run(&signed_domain(&bare.domain.url, ADMIN), &plan, soon(30))
        .await
        .unwrap_err();
    assert!(
        matches!(f.error, SetupError::NoDashboards { status: 404, .. }),
        "{}",
        f.error
    );
    assert!(f
        .reason()
        .contains("applied before it: retention created, index template created"));

    // A cluster without ISM (osmem-server itself).
    let f = run(&signed_domain(&s.osmem.url, ADMIN), &plan, soon(30))
        .await
        .unwrap_err();
    assert_eq!(f.step, Step::Retention);
    assert!(
        f.reason().contains("pass --retention-days 0"),
        "{}",
        f.reason()
    );

    // Fine-grained access control without the master user, and with a wrong password.
    let fgac = fgac_servers(&[]);
    let f = run(&signed_domain(&fgac.domain.url, ADMIN), &plan, soon(30))
        .await
        .unwrap_err();
    assert!(
        matches!(f.error, SetupError::NeedsMasterUser { status: 403 }),
        "{}",
        f.error
    );
    assert!(f.reason().contains("--master-secret"), "{}", f.reason());
    let f = run(&master_domain(&fgac.domain.url, "wrong"), &plan, soon(30))
        .await
        .unwrap_err();
    assert!(
        matches!(f.error, SetupError::Denied { status: 401, .. }),
        "{}",
        f.error
    );
    assert!(f
        .reason()
        .contains("master user's name or password was refused"));
    let _ = root();
}
