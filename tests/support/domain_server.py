#!/usr/bin/env python3
"""A stand-in for an Amazon OpenSearch Service domain endpoint, for the tests, on 127.0.0.1.

It answers what osmem-server (the OpenSearch-compatible server the tests use) lacks, the
way a domain does, and passes everything else to osmem-server:

- authentication as a domain checks it: SigV4 signatures recomputed with botocore's
  SigV4Auth (an implementation independent of the Rust aws-sigv4 crate that signs) from the
  raw request, service `es`, the configured region, a 5-minute clock skew; IAM mode enforces
  an access policy of allowed principals; fine-grained access control (FGAC) mode takes HTTP
  basic for the internal master user and SigV4 from IAM roles that a role mapping names,
  with permissions from the mapped roles' action groups; anonymous requests are refused;
- the security plugin's REST API (`_plugins/_security/api/roles`, `rolesmapping`,
  `authinfo`);
- Index State Management (`_plugins/_ism/policies`, `add`, `change_policy`, `explain`),
  with sequence numbers and policy validation, and ISM templates attaching new indices;
- OpenSearch Dashboards under `/_dashboards`: `api/status`, `api/saved_objects/_import`
  (multipart, `.ndjson` only, `osd-xsrf` required, references validated, tenants under
  FGAC), `_bulk_get`, `_find`;
- CloudFormation's pre-signed response URL (`PUT /cfn-response/...`): no content type
  (the URL is signed without one), at most 4,096 bytes, the fields CloudFormation needs.

Faults for tests (`--fault PATH=KIND` or `POST /_test/fault`): `500`, `503`, `hang` (accept
and never answer), `lie` (the import answers success and stores nothing). `GET /_test/state`
shows what it holds and `GET /_test/log` what it was asked.

Run: `python domain_server.py --upstream URL --key AKID:SECRET:ARN ...`; prints
`{"url": "http://127.0.0.1:PORT"}` once listening.
"""

import argparse
import email.parser
import email.policy
import fnmatch
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

LOCK = threading.Lock()
STATE = {
    "roles": {},
    "rolesmapping": {},
    "policies": {},  # id -> {"policy": ..., "seq_no": n, "primary_term": 1, "indices_before": [...]}
    "managed": {},  # index -> policy id
    "objects": {},  # tenant -> {"type/id": object}
    "cfn": [],
    "log": [],
    "faults": {},
}
CONFIG = {}

ACTION_GROUPS = {
    "cluster_composite_ops": {"indices:data/write/bulk", "indices:data/read/mget", "indices:data/read/msearch"},
    "cluster_monitor": {"cluster:monitor/main", "cluster:monitor/health", "cluster:monitor/state"},
    "crud": {"indices:data/read/search", "indices:data/write/index", "indices:data/read/get"},
    "create_index": {"indices:admin/create", "indices:admin/mapping/put"},
}
SAVED_OBJECT_TYPES = {"index-pattern", "visualization", "dashboard", "search", "config"}


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def security_exception(action, principal, roles):
    reason = f"no permissions for [{action}] and User [name={principal}, backend_roles=[{principal}], requestedTenant=null]"
    return 403, {
        "error": {"root_cause": [{"type": "security_exception", "reason": reason}], "type": "security_exception", "reason": reason},
        "status": 403,
    }


def upstream(method, path, body=b"", content_type=None):
    req = urllib.request.Request(CONFIG["upstream"] + path, method=method, data=body if body else None)
    if content_type:
        req.add_header("content-type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), r.headers.get("content-type", "application/json")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("content-type", "application/json")


def indices(pattern):
    status, body, _ = upstream("GET", f"/_cat/indices/{pattern}?format=json")
    if status != 200:
        return []
    return sorted(i["index"] for i in json.loads(body))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    # --- plumbing ---------------------------------------------------------------------
    def reply(self, status, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.handle_any("GET")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_HEAD(self):
        self.handle_any("HEAD")

    def handle_any(self, method):
        raw = self.path
        split = urlsplit(raw)
        path, query = split.path, parse_qs(split.query)
        body = self.body()
        if path.startswith("/_test/"):
            return self.control(method, path, body)
        if path.startswith("/cfn-response/"):
            return self.cfn_response(method, body)
        principal, err = self.authenticate(method, raw, body)
        with LOCK:
            STATE["log"].append({"method": method, "path": raw, "principal": principal, "error": err and err[1]})
        if err:
            return self.reply(*err[:2], headers=err[2] if len(err) > 2 else ())
        fault = self.fault_for(unquote(path))
        if fault == "hang":
            time.sleep(3600)
            return
        if fault in ("500", "503"):
            return self.reply(int(fault), {"error": {"type": "injected_fault", "reason": f"injected {fault} for {path}"}, "status": int(fault)})
        if path.startswith("/_dashboards"):
            return self.dashboards(method, path[len("/_dashboards"):], query, body, principal, fault)
        if path.startswith("/_plugins/_security"):
            return self.security(method, path[len("/_plugins/_security"):], body, principal)
        if path.startswith("/_plugins/_ism"):
            return self.ism(method, path[len("/_plugins/_ism"):], query, body)
        return self.proxy(method, raw, path, body, principal)

    def fault_for(self, path):
        with LOCK:
            for prefix, kind in STATE["faults"].items():
                if path.startswith(prefix):
                    return kind
        return None

    def control(self, method, path, body):
        with LOCK:
            if path == "/_test/state":
                return self.reply(200, {k: STATE[k] for k in ("roles", "rolesmapping", "policies", "managed", "objects", "faults")})
            if path == "/_test/log":
                return self.reply(200, STATE["log"])
            if path == "/_test/cfn":
                return self.reply(200, STATE["cfn"])
            if path == "/_test/fault" and method == "POST":
                spec = json.loads(body)
                if spec.get("kind"):
                    STATE["faults"][spec["path"]] = spec["kind"]
                else:
                    STATE["faults"].pop(spec["path"], None)
                return self.reply(200, {"faults": STATE["faults"]})
        return self.reply(404, {"error": "unknown control path"})

    # --- CloudFormation's response URL ------------------------------------------------
    def cfn_response(self, method, body):
        def s3_error(status, code, message):
            xml = f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            self.reply(status, xml.encode(), "application/xml")

        if method != "PUT":
            return s3_error(403, "SignatureDoesNotMatch", "the pre-signed URL is signed for PUT")
        if self.headers.get("content-type"):
            return s3_error(403, "SignatureDoesNotMatch", "the pre-signed URL is signed without a Content-Type")
        if len(body) > 4096:
            return s3_error(400, "EntityTooLarge", "a custom resource response is at most 4096 bytes")
        try:
            answer = json.loads(body)
        except ValueError:
            return s3_error(400, "MalformedJSON", "the response is not JSON")
        required = ["Status", "PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId"]
        missing = [k for k in required if not isinstance(answer.get(k), str) or not answer.get(k)]
        if missing or answer["Status"] not in ("SUCCESS", "FAILED") or (answer["Status"] == "FAILED" and not answer.get("Reason")):
            return s3_error(400, "InvalidResponse", f"missing or invalid: {missing or 'Status/Reason'}")
        with LOCK:
            STATE["cfn"].append({"path": self.path, "answer": answer, "at": time.time()})
        self.reply(200, b"", "application/xml")

    # --- authentication and authorisation ---------------------------------------------
    def authenticate(self, method, raw, body):
        auth = self.headers.get("authorization", "")
        if auth.startswith("AWS4-HMAC-SHA256"):
            principal, err = self.verify_sigv4(method, raw, body, auth)
            if err:
                return None, err
            if not CONFIG["fgac"] and principal not in CONFIG["allow"]:
                action = {"GET": "ESHttpGet", "PUT": "ESHttpPut", "POST": "ESHttpPost", "DELETE": "ESHttpDelete", "HEAD": "ESHttpHead"}[method]
                return None, (403, {"Message": f"User: {principal} is not authorized to perform: es:{action} because no resource-based policy allows the es:{action} action"})
            return principal, None
        if auth.startswith("Basic ") and CONFIG["fgac"]:
            import base64

            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if (user, password) == CONFIG["master"]:
                return "master", None
            return None, (401, b"Unauthorized", [("www-authenticate", 'Basic realm="Authorization Required"')])
        if CONFIG["fgac"]:
            return None, (401, b"Unauthorized", [("www-authenticate", 'Basic realm="Authorization Required"')])
        return None, (403, {"message": "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter."})

    def verify_sigv4(self, method, raw, body, auth):
        m = re.fullmatch(
            r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})",
            auth,
        )
        if not m:
            return None, (403, {"message": f"malformed Authorization header: {auth[:80]}"})
        akid, day, region, service, signed, signature = m.groups()
        if akid not in CONFIG["keys"]:
            return None, (403, {"message": "The security token included in the request is invalid."})
        if region != CONFIG["region"] or service != "es":
            return None, (403, {"message": f"Credential should be scoped to a valid region and service es/{CONFIG['region']}, not {service}/{region}."})
        amz_date = self.headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return None, (403, {"message": "missing or malformed X-Amz-Date"})
        if abs((datetime.now(timezone.utc) - signed_at).total_seconds()) > 300 or amz_date[:8] != day:
            return None, (403, {"message": "Signature expired: the request time is too far from the server time"})
        names = signed.split(";")
        if "host" not in names:
            return None, (403, {"message": "the host header must be signed"})
        missing = [n for n in names if self.headers.get(n) is None]
        if missing:
            return None, (403, {"message": f"signed headers missing from the request: {missing}"})
        secret, principal = CONFIG["keys"][akid]
        request = AWSRequest(method=method, url=f"http://{self.headers['host']}{raw}", data=body, headers={n: self.headers[n] for n in names})
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(akid, secret, self.headers.get("x-amz-security-token")), "es", region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if signer.signed_headers(signer.headers_to_sign(request)) != signed or expected != signature:
            return None, (403, {"message": "The request signature we calculated does not match the signature you provided.", "canonical": canonical})
        return principal, None

    def roles_of(self, principal):
        if principal == "master":
            return ["all_access", "security_manager"]
        with LOCK:
            return sorted(
                name
                for name, m in STATE["rolesmapping"].items()
                if principal in m.get("backend_roles", []) or principal in m.get("users", [])
            )

    def allowed(self, principal, action, index=None):
        roles = self.roles_of(principal)
        if "all_access" in roles:
            return True
        with LOCK:
            defs = [STATE["roles"].get(r, {}) for r in roles]
        for role in defs:
            if index is None:
                for perm in role.get("cluster_permissions", []):
                    if action == perm or action in ACTION_GROUPS.get(perm, ()):
                        return True
            else:
                for ip in role.get("index_permissions", []):
                    if any(fnmatch.fnmatchcase(index, p) for p in ip.get("index_patterns", [])):
                        for perm in ip.get("allowed_actions", []):
                            if action == perm or action in ACTION_GROUPS.get(perm, ()):
                                return True
        return False

    # --- the REST API, through osmem-server --------------------------------------------
    def proxy(self, method, raw, path, body, principal):
        if CONFIG["fgac"] and principal != "master":
            denied = self.authorise(method, path, body, principal)
            if denied:
                return self.reply(*denied)
        status, data, ctype = upstream(method, raw, body, self.headers.get("content-type"))
        if method in ("PUT", "POST") and status < 300:
            self.attach_new_indices()
        self.reply(status, data, ctype)

    def authorise(self, method, path, body, principal):
        """The FGAC check for an IAM role: the actions the request needs."""
        parts = [p for p in path.split("/") if p]
        needs = []
        if not parts:
            needs.append(("cluster:monitor/main", None))
        elif parts[-1] == "_bulk":
            needs.append(("indices:data/write/bulk", None))
            existing = set(indices("*"))
            lines = body.decode("utf-8", "replace").splitlines()
            for line in lines[::2]:
                try:
                    op = json.loads(line)
                except ValueError:
                    continue
                meta = next(iter(op.values()), {})
                index = meta.get("_index") or (parts[0] if len(parts) > 1 else None)
                if index:
                    needs.append(("indices:data/write/index", index))
                    if index not in existing:
                        needs.append(("indices:admin/create", index))
        elif parts[-1] == "_search":
            needs.append(("indices:data/read/search", parts[0] if len(parts) > 1 else "*"))
        elif parts[0] == "_cluster":
            needs.append(("cluster:monitor/health", None))
        else:
            needs.append(("indices:admin/" + parts[-1].lstrip("_"), parts[0]))
        for action, index in needs:
            if not self.allowed(principal, action, index):
                return security_exception(action, principal, self.roles_of(principal))
        return None

    # --- the security plugin ----------------------------------------------------------
    def security(self, method, path, body, principal):
        if not CONFIG["fgac"]:
            return self.reply(400, {"error": f"no handler found for uri [/_plugins/_security{path}] and method [{method}]"})
        if path == "/authinfo" and method == "GET":
            roles = self.roles_of(principal)
            name = "admin" if principal == "master" else principal
            return self.reply(200, {
                "user": f"User [name={name}, backend_roles=[{'' if principal == 'master' else principal}], requestedTenant=null]",
                "user_name": name,
                "backend_roles": [] if principal == "master" else [principal],
                "roles": roles,
                "tenants": {"global_tenant": True},
            })
        if principal != "master":
            return self.reply(*security_exception("restapi:admin/" + path.strip("/"), principal, []))
        m = re.fullmatch(r"/api/(roles|rolesmapping)/([A-Za-z0-9_.-]+)", path)
        if not m:
            return self.reply(400, {"status": "BAD_REQUEST", "message": f"unknown security endpoint {path}"})
        kind, name = m.groups()
        store = STATE[kind]
        if method == "GET":
            with LOCK:
                if name not in store:
                    return self.reply(404, {"status": "NOT_FOUND", "message": f"Resource '{name}' not found."})
                item = dict(store[name], reserved=False, hidden=False)
                if kind == "roles":
                    item["static"] = False
                    item["index_permissions"] = [dict(p, fls=[], masked_fields=[]) for p in item.get("index_permissions", [])]
                    item.setdefault("tenant_permissions", [])
                else:
                    item.setdefault("and_backend_roles", [])
                return self.reply(200, {name: item})
        if method == "PUT":
            try:
                item = json.loads(body)
            except ValueError:
                return self.reply(400, {"status": "BAD_REQUEST", "message": "the body is not JSON"})
            allowed = {"roles": {"description", "cluster_permissions", "index_permissions", "tenant_permissions"},
                       "rolesmapping": {"description", "backend_roles", "hosts", "users", "and_backend_roles"}}[kind]
            unknown = set(item) - allowed
            if unknown:
                return self.reply(400, {"status": "error", "reason": "Invalid configuration", "invalid_keys": {"keys": ",".join(sorted(unknown))}})
            with LOCK:
                if kind == "rolesmapping" and name not in STATE["roles"] and name not in ("all_access",):
                    return self.reply(404, {"status": "NOT_FOUND", "message": f"role '{name}' not found."})
                created = name not in store
                store[name] = item
            return self.reply(201 if created else 200, {"status": "CREATED" if created else "OK", "message": f"'{name}' {'created' if created else 'updated'}."})
        return self.reply(405, {"status": "METHOD_NOT_ALLOWED"})

    # --- Index State Management -------------------------------------------------------
    def ism(self, method, path, query, body):
        m = re.fullmatch(r"/policies/([A-Za-z0-9_.-]+)", path)
        if m:
            return self.ism_policy(method, m.group(1), query, body)
        m = re.fullmatch(r"/(add|change_policy)/(.+)", path)
        if m and method == "POST":
            action, pattern = m.groups()
            policy_id = json.loads(body or b"{}").get("policy_id")
            with LOCK:
                if policy_id not in STATE["policies"]:
                    return self.reply(404, {"error": {"type": "status_exception", "reason": f"Could not find policy={policy_id}"}, "status": 404})
            updated, failed = 0, []
            for index in indices(unquote(pattern)):
                with LOCK:
                    managed = index in STATE["managed"]
                    if action == "add" and not managed:
                        STATE["managed"][index] = policy_id
                        updated += 1
                    elif action == "add":
                        failed.append({"index_name": index, "index_uuid": index, "reason": "This index already has a policy, use the update policy API to update index policies"})
                    elif managed:
                        STATE["managed"][index] = policy_id
                        updated += 1
            return self.reply(200, {"updated_indices": updated, "failures": bool(failed), "failed_indices": failed})
        m = re.fullmatch(r"/explain/(.+)", path)
        if m and method == "GET":
            out = {}
            for index in indices(unquote(m.group(1))):
                with LOCK:
                    out[index] = {"index.plugins.index_state_management.policy_id": STATE["managed"].get(index)}
            out["total_managed_indices"] = sum(1 for v in out.values() if v["index.plugins.index_state_management.policy_id"])
            return self.reply(200, out)
        return self.reply(400, {"error": f"no handler found for uri [/_plugins/_ism{path}] and method [{method}]"})

    def ism_policy(self, method, policy_id, query, body):
        with LOCK:
            current = STATE["policies"].get(policy_id)
        if method == "GET":
            if not current:
                return self.reply(404, {"error": {"root_cause": [{"type": "status_exception", "reason": "Policy not found"}], "type": "status_exception", "reason": "Policy not found"}, "status": 404})
            return self.reply(200, {"_id": policy_id, "_version": current["seq_no"] + 1, "_seq_no": current["seq_no"], "_primary_term": 1, "policy": current["policy"]})
        if method != "PUT":
            return self.reply(405, {"error": "method not allowed"})
        try:
            policy = json.loads(body)["policy"]
        except (ValueError, KeyError, TypeError):
            return self.reply(400, {"error": {"type": "parse_exception", "reason": "a policy body is {\"policy\": {...}}"}, "status": 400})
        states = {s.get("name") for s in policy.get("states", [])}
        targets = {t.get("state_name") for s in policy.get("states", []) for t in s.get("transitions", [])}
        if not states or policy.get("default_state") not in states or not targets <= states:
            return self.reply(400, {"error": {"type": "illegal_argument_exception", "reason": "the default state and every transition must name a state"}, "status": 400})
        if current:
            seq, term = query.get("if_seq_no", [None])[0], query.get("if_primary_term", [None])[0]
            if seq is None or term is None:
                return self.reply(409, {"error": {"type": "version_conflict_engine_exception", "reason": f"[{policy_id}]: version conflict, document already exists"}, "status": 409})
            if int(seq) != current["seq_no"] or int(term) != 1:
                return self.reply(409, {"error": {"type": "version_conflict_engine_exception", "reason": f"[{policy_id}]: version conflict, required seqNo [{seq}]"}, "status": 409})
        stamp = int(time.time() * 1000)
        stored = dict(policy, policy_id=policy_id, last_updated_time=stamp, schema_version=19, error_notification=None)
        stored["states"] = [dict(s, actions=[dict(a, retry={"count": 3, "backoff": "exponential", "delay": "1m"}) for a in s.get("actions", [])]) for s in policy["states"]]
        stored["ism_template"] = [dict(t, last_updated_time=stamp) for t in policy.get("ism_template", [])]
        seq_no = current["seq_no"] + 1 if current else 0
        before = set(current["indices_before"]) if current else set(indices("*"))
        with LOCK:
            STATE["policies"][policy_id] = {"policy": stored, "seq_no": seq_no, "indices_before": sorted(before)}
        return self.reply(200 if current else 201, {"_id": policy_id, "_version": seq_no + 1, "_primary_term": 1, "_seq_no": seq_no, "policy": {"policy": stored}})

    def attach_new_indices(self):
        """ISM templates: a new index matching a policy's template gets that policy."""
        with LOCK:
            policies = list(STATE["policies"].items())
        for policy_id, p in policies:
            for template in p["policy"].get("ism_template", []):
                for index in indices(",".join(template["index_patterns"])):
                    with LOCK:
                        if index not in STATE["managed"] and index not in p["indices_before"]:
                            STATE["managed"][index] = policy_id

    # --- OpenSearch Dashboards --------------------------------------------------------
    def dashboards(self, method, path, query, body, principal, fault):
        if CONFIG["no_dashboards"]:
            return self.reply(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})
        if method not in ("GET", "HEAD") and not (self.headers.get("osd-xsrf") or self.headers.get("kbn-xsrf") or self.headers.get("osd-version")):
            return self.reply(400, {"statusCode": 400, "error": "Bad Request", "message": "Request must contain a osd-xsrf header."})
        tenant = "global"
        if CONFIG["fgac"]:
            tenant = (self.headers.get("securitytenant") or "private").lower()
            tenant = {"global_tenant": "global", "__user__": "private"}.get(tenant, tenant)
            if tenant == "private":
                tenant = f"private:{principal}"
        with LOCK:
            store = STATE["objects"].setdefault(tenant, {})
        if path == "/api/status" and method == "GET":
            return self.reply(200, {"name": "opensearch-dashboards", "version": {"number": "2.13.0"}, "status": {"overall": {"state": "green"}}})
        if path == "/api/saved_objects/_bulk_get" and method == "POST":
            wanted = json.loads(body or b"[]")
            out = []
            with LOCK:
                for w in wanted:
                    key = f"{w.get('type')}/{w.get('id')}"
                    if key in store:
                        out.append(store[key])
                    else:
                        out.append({"id": w.get("id"), "type": w.get("type"), "error": {"statusCode": 404, "error": "Not Found", "message": f"Saved object [{key}] not found"}})
            return self.reply(200, {"saved_objects": out})
        if path == "/api/saved_objects/_find" and method == "GET":
            kinds = query.get("type", [])
            with LOCK:
                found = [o for o in store.values() if not kinds or o["type"] in kinds]
            return self.reply(200, {"page": 1, "per_page": 20, "total": len(found), "saved_objects": found})
        if path == "/api/saved_objects/_import" and method == "POST":
            return self.import_objects(query, body, store, fault)
        return self.reply(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})

    def import_objects(self, query, body, store, fault):
        overwrite = query.get("overwrite", ["false"])[0] == "true"
        if overwrite and query.get("createNewCopies", ["false"])[0] == "true":
            return self.reply(400, {"statusCode": 400, "error": "Bad Request", "message": "cannot use [overwrite] with [createNewCopies]"})
        ctype = self.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return self.reply(415, {"statusCode": 415, "error": "Unsupported Media Type", "message": "Unsupported Media Type"})
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(b"content-type: " + ctype.encode() + b"\r\n\r\n" + body)
        parts = [p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "file"] if message.is_multipart() else []
        if not parts:
            return self.reply(400, {"statusCode": 400, "error": "Bad Request", "message": "[request body.file]: expected value of type [Stream] but got [undefined]"})
        filename = parts[0].get_filename() or ""
        if not filename.lower().endswith(".ndjson"):
            return self.reply(400, {"statusCode": 400, "error": "Bad Request", "message": f"Invalid file extension {filename[filename.rfind('.'):] if '.' in filename else ''}"})
        objects, errors = [], []
        for line in parts[0].get_payload(decode=True).decode("utf-8").splitlines():
            if not line.strip():
                continue
            o = json.loads(line)
            if o.get("type") not in SAVED_OBJECT_TYPES:
                errors.append({"id": o.get("id"), "type": o.get("type"), "title": "", "meta": {}, "error": {"type": "unsupported_type"}})
                continue
            objects.append(o)
        keys = {f"{o['type']}/{o['id']}" for o in objects}
        with LOCK:
            existing = set(store)
        good = []
        for o in objects:
            missing = [r for r in o.get("references", []) if f"{r['type']}/{r['id']}" not in keys | existing]
            if missing:
                errors.append({"id": o["id"], "type": o["type"], "title": o["attributes"].get("title"), "meta": {}, "error": {"type": "missing_references", "references": missing}})
            elif f"{o['type']}/{o['id']}" in existing and not overwrite:
                errors.append({"id": o["id"], "type": o["type"], "title": o["attributes"].get("title"), "meta": {}, "error": {"type": "conflict"}})
            else:
                good.append(o)
        if fault != "lie":
            with LOCK:
                for o in good:
                    stored = {
                        "id": o["id"], "type": o["type"], "attributes": o["attributes"], "references": o.get("references", []),
                        "migrationVersion": o.get("migrationVersion", {}), "updated_at": now_iso(), "version": "WzEsMV0=",
                        "namespaces": ["default"],
                    }
                    store[f"{o['type']}/{o['id']}"] = stored
        answer = {"successCount": len(good), "success": not errors}
        if good:
            answer["successResults"] = [{"type": o["type"], "id": o["id"], "meta": {"title": o["attributes"].get("title")}, **({"overwrite": True} if f"{o['type']}/{o['id']}" in existing else {})} for o in good]
        if errors:
            answer["errors"] = errors
        return self.reply(200, answer)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="the OpenSearch-compatible server (osmem-server)")
    parser.add_argument("--region", default="eu-west-1")
    parser.add_argument("--key", action="append", default=[], help="AKID:SECRET:PRINCIPAL_ARN, repeatable")
    parser.add_argument("--allow", action="append", default=None, help="IAM mode: principals the access policy allows (default: every key's)")
    parser.add_argument("--fine-grained", action="store_true", help="fine-grained access control with the internal user database")
    parser.add_argument("--master", default="admin:Admin-Pass-1", help="USER:PASSWORD of the master user")
    parser.add_argument("--no-dashboards", action="store_true", help="a domain without Dashboards")
    parser.add_argument("--fault", action="append", default=[], help="PATH_PREFIX=KIND")
    args = parser.parse_args()
    keys = {}
    for spec in args.key:
        akid, secret, principal = spec.split(":", 2)
        keys[akid] = (secret, principal)
    CONFIG.update(
        upstream=args.upstream.rstrip("/"), region=args.region, keys=keys, fgac=args.fine_grained,
        master=tuple(args.master.split(":", 1)), no_dashboards=args.no_dashboards,
        allow=set(args.allow) if args.allow is not None else {p for _, p in keys.values()},
    )
    for spec in args.fault:
        prefix, kind = spec.rsplit("=", 1)
        STATE["faults"][prefix] = kind
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
