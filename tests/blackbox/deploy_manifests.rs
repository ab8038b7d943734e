//! Issue 7: the deployment files under `deploy/` say what they must.
//!
//! No database and no cluster: every YAML file is parsed (all of its documents), and
//! the Kubernetes objects, the compose file, the Dockerfile and the nginx
//! configuration are checked for the fields production depends on — probes,
//! replicas, resources, non-root, the worker, the keys outside the data directory,
//! and no access log for `/r/` answer links. The settings the manifests pass as
//! `SAFEPULSE_*` variables are parsed into the real `Config`, and the commands they
//! run are asked for `--help` from the real binary, so the files cannot drift from
//! the code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use safepulse_api::config::{Config, Mode};
use serde::Deserialize;
use serde_yaml_ng::Value;

// ---------------------------------------------------------------------------
// Reading the files
// ---------------------------------------------------------------------------

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Every `.yaml` / `.yml` file under `dir`, recursively, sorted.
fn yaml_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .unwrap_or_else(|error| panic!("cannot list {}: {error}", current.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if matches!(
                path.extension().and_then(|ext| ext.to_str()),
                Some("yaml" | "yml")
            ) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Every non-empty document of a YAML stream, with `<<` merge keys applied (as
/// compose and kubectl do).
fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = read(path);
    let mut documents = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        let mut value = Value::deserialize(document).unwrap_or_else(|error| {
            panic!(
                "{} document {index} is not valid YAML: {error}",
                path.display()
            )
        });
        value.apply_merge().unwrap_or_else(|error| {
            panic!(
                "{} document {index}: bad merge key: {error}",
                path.display()
            )
        });
        if !value.is_null() {
            documents.push(value);
        }
    }
    documents
}

/// One Kubernetes object and the file it came from.
#[derive(Debug, Clone)]
struct Object {
    file: PathBuf,
    value: Value,
}

impl Object {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }

    fn describe(&self) -> String {
        format!("{} {} ({})", self.kind(), self.name(), self.file.display())
    }

    /// The pod template's spec of a workload, if this is one.
    fn pod_spec(&self) -> Option<&Value> {
        let spec = match self.kind() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicaSet" => {
                &self.value["spec"]["template"]["spec"]
            }
            "CronJob" => &self.value["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            _ => return None,
        };
        Some(spec)
    }

    fn pod_labels(&self) -> BTreeMap<String, String> {
        let template = match self.kind() {
            "CronJob" => &self.value["spec"]["jobTemplate"]["spec"]["template"],
            _ => &self.value["spec"]["template"],
        };
        string_map(&template["metadata"]["labels"])
    }

    /// Containers and init containers of a workload.
    fn containers(&self) -> Vec<&Value> {
        let Some(spec) = self.pod_spec() else {
            return Vec::new();
        };
        ["initContainers", "containers"]
            .iter()
            .flat_map(|field| sequence(&spec[*field]))
            .collect()
    }
}

/// The Kubernetes objects of `deploy/k8s/` (documents with `apiVersion` and `kind`,
/// except the kustomization itself).
fn kubernetes_objects() -> Vec<Object> {
    let dir = deploy_dir().join("k8s");
    let objects: Vec<Object> = yaml_files_under(&dir)
        .into_iter()
        .flat_map(|file| {
            yaml_documents(&file).into_iter().map(move |value| Object {
                file: file.clone(),
                value,
            })
        })
        .filter(|object| object.value["apiVersion"].is_string() && object.value["kind"].is_string())
        .filter(|object| object.kind() != "Kustomization") // kustomize's own file, not a cluster object
        .collect();
    assert!(
        !objects.is_empty(),
        "no Kubernetes objects under {}",
        dir.display()
    );
    objects
}

fn objects_of_kind<'a>(objects: &'a [Object], kind: &str) -> Vec<&'a Object> {
    objects
        .iter()
        .filter(|object| object.kind() == kind)
        .collect()
}

fn object<'a>(objects: &'a [Object], kind: &str, name: &str) -> Option<&'a Object> {
    objects
        .iter()
        .find(|object| object.kind() == kind && object.name() == name)
}

fn sequence(value: &Value) -> Vec<&Value> {
    value
        .as_sequence()
        .map(|items| items.iter().collect())
        .unwrap_or_default()
}

fn strings(value: &Value) -> Vec<String> {
    sequence(value)
        .into_iter()
        .filter_map(scalar_string)
        .collect()
}

/// A scalar as text, the way compose and Kubernetes read environment values.
fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_mapping()
        .map(|mapping| {
            mapping
                .iter()
                .filter_map(|(key, value)| Some((key.as_str()?.to_owned(), scalar_string(value)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
}

/// The Deployment running `safepulse serve`.
fn api_deployment(objects: &[Object]) -> &Object {
    let candidates: Vec<&Object> = objects_of_kind(objects, "Deployment")
        .into_iter()
        .filter(|deployment| {
            deployment
                .containers()
                .iter()
                .any(|container| runs_command(container, "serve"))
        })
        .collect();
    assert_eq!(
        candidates.len(),
        1,
        "exactly one Deployment must run `safepulse serve`, found {}",
        candidates.len()
    );
    candidates[0]
}

/// The Deployment running `safepulse worker`.
fn worker_deployment(objects: &[Object]) -> &Object {
    let candidates: Vec<&Object> = objects_of_kind(objects, "Deployment")
        .into_iter()
        .filter(|deployment| {
            deployment
                .containers()
                .iter()
                .any(|container| runs_command(container, "worker"))
        })
        .collect();
    assert_eq!(
        candidates.len(),
        1,
        "exactly one Deployment must run `safepulse worker`, found {}",
        candidates.len()
    );
    candidates[0]
}

/// The safepulse subcommand a container runs: the first of `command` + `args` that
/// is not the binary itself (the image's ENTRYPOINT is the binary).
fn subcommand(container: &Value) -> Option<String> {
    let mut words = strings(&container["command"]);
    words.extend(strings(&container["args"]));
    words
        .into_iter()
        .find(|word| !word.ends_with("safepulse") && !word.starts_with('-'))
}

fn runs_command(container: &Value, command: &str) -> bool {
    subcommand(container).as_deref() == Some(command)
}

/// The environment a container gets from its ConfigMaps and Secrets (`envFrom`)
/// and its own `env` entries with literal values.
fn container_environment(objects: &[Object], container: &Value) -> BTreeMap<String, String> {
    let mut environment = BTreeMap::new();
    for source in sequence(&container["envFrom"]) {
        if let Some(name) = source["configMapRef"]["name"].as_str() {
            let config_map = object(objects, "ConfigMap", name).unwrap_or_else(|| {
                panic!("envFrom names ConfigMap {name:?}, which deploy/k8s does not define")
            });
            environment.extend(string_map(&config_map.value["data"]));
        }
        if let Some(name) = source["secretRef"]["name"].as_str() {
            let secret = object(objects, "Secret", name).unwrap_or_else(|| {
                panic!("envFrom names Secret {name:?}, which deploy/k8s does not define")
            });
            environment.extend(secret_entries(secret));
        }
    }
    for variable in sequence(&container["env"]) {
        if let (Some(name), Some(value)) =
            (variable["name"].as_str(), scalar_string(&variable["value"]))
        {
            environment.insert(name.to_owned(), value);
        }
    }
    environment
}

/// A Secret's `stringData` entries (placeholders in the committed manifests).
fn secret_entries(secret: &Object) -> BTreeMap<String, String> {
    string_map(&secret.value["stringData"])
}

// ---------------------------------------------------------------------------
// SAFEPULSE_* variables → the real Config
// ---------------------------------------------------------------------------

/// Parses `SAFEPULSE_*` variables the way the binary does (prefix stripped, lower
/// case, `__` for nesting, scalars typed) over the defaults, into a `Config`.
/// Unknown names fail: a typo would otherwise be ignored silently.
fn config_from_environment(environment: &BTreeMap<String, String>, origin: &str) -> Config {
    let mut merged = serde_json::to_value(Config::default()).expect("Config serializes");
    let known_top_level: BTreeSet<String> = merged
        .as_object()
        .expect("Config is a map")
        .keys()
        .cloned()
        .collect();
    let mut nested_keys: Vec<Vec<String>> = Vec::new();
    for (name, value) in environment {
        let Some(rest) = name.strip_prefix("SAFEPULSE_") else {
            continue;
        };
        if rest == "CONFIG" {
            continue; // the --config flag's variable, read by the command line
        }
        let path: Vec<String> = rest.to_lowercase().split("__").map(str::to_owned).collect();
        assert!(
            known_top_level.contains(&path[0]),
            "{origin}: {name} is not a safepulse setting (known: {known_top_level:?})"
        );
        let mut slot = &mut merged;
        for key in &path[..path.len() - 1] {
            if !slot[key.as_str()].is_object() {
                slot[key.as_str()] = serde_json::json!({});
            }
            slot = &mut slot[key.as_str()];
        }
        slot[path[path.len() - 1].as_str()] = typed_scalar(value);
        if path.len() > 1 {
            nested_keys.push(path);
        }
    }
    let config: Config = serde_json::from_value(merged.clone()).unwrap_or_else(|error| {
        panic!("{origin}: the SAFEPULSE_* settings do not make a valid Config: {error}")
    });
    config
        .validate()
        .unwrap_or_else(|error| panic!("{origin}: {error}"));
    // Nested names must be real fields too: serialize what was parsed and look for them.
    let parsed = serde_json::to_value(&config).expect("Config serializes");
    for path in nested_keys {
        let mut cursor = &parsed;
        for key in &path {
            cursor = &cursor[key.as_str()];
        }
        assert!(
            !cursor.is_null(),
            "{origin}: SAFEPULSE_{} is not a safepulse setting",
            path.join("__").to_uppercase()
        );
    }
    config
}

/// `true`/`false`, integers and `[…]` arrays become typed values, everything else
/// a string.
fn typed_scalar(text: &str) -> serde_json::Value {
    match text {
        "true" => serde_json::Value::Bool(true),
        "false" => serde_json::Value::Bool(false),
        _ if text.starts_with('[') => serde_json::from_str(text)
            .unwrap_or_else(|error| panic!("{text} is not an array: {error}")),
        _ => match text.parse::<i64>() {
            Ok(number) => serde_json::Value::from(number),
            Err(_) => serde_json::Value::String(text.to_owned()),
        },
    }
}

/// Compose's `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`:
/// defaults are used, required variables get a stand-in.
fn interpolate(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|offset| start + offset)
            .expect("unclosed ${ in compose.yaml");
        let expression = &rest[start + 2..end];
        let operator =
            expression.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
        let replacement = match operator
            .strip_prefix(":-")
            .or_else(|| operator.strip_prefix('-'))
        {
            Some(default) => default.to_owned(),
            None => "stand-in".to_owned(), // `${NAME}`, `${NAME:?error}`: required, set by the operator
        };
        out.push_str(&replacement);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------
// Compose helpers
// ---------------------------------------------------------------------------

fn compose() -> Value {
    let path = deploy_dir().join("compose.yaml");
    let mut documents = yaml_documents(&path);
    assert_eq!(documents.len(), 1, "compose.yaml holds one document");
    documents.remove(0)
}

fn compose_service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    let service = &compose["services"][name];
    assert!(service.is_mapping(), "compose.yaml has no `{name}` service");
    service
}

/// `command:` as a list of words (list form, or a string split on spaces).
fn compose_command(service: &Value) -> Vec<String> {
    match &service["command"] {
        Value::String(line) => line.split_whitespace().map(str::to_owned).collect(),
        other => strings(other),
    }
}

fn compose_environment(service: &Value) -> BTreeMap<String, String> {
    let environment = &service["environment"];
    let raw: BTreeMap<String, String> = match environment {
        Value::Sequence(_) => strings(environment)
            .into_iter()
            .filter_map(|line| {
                line.split_once('=')
                    .map(|(key, value)| (key.to_owned(), value.to_owned()))
            })
            .collect(),
        _ => string_map(environment),
    };
    raw.into_iter()
        .map(|(key, value)| (key, interpolate(&value)))
        .collect()
}

/// A mount of a compose service: short (`src:dst[:ro]`) or long syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    kind: String,
    source: String,
    target: String,
    read_only: bool,
}

fn compose_mounts(service: &Value) -> Vec<Mount> {
    sequence(&service["volumes"])
        .into_iter()
        .map(|volume| match volume {
            Value::String(short) => {
                let parts: Vec<&str> = short.split(':').collect();
                let source = parts[0].to_owned();
                let kind = if source.starts_with('.')
                    || source.starts_with('/')
                    || source.starts_with('$')
                {
                    "bind"
                } else {
                    "volume"
                };
                Mount {
                    kind: kind.to_owned(),
                    source,
                    target: parts.get(1).copied().unwrap_or_default().to_owned(),
                    read_only: parts
                        .get(2)
                        .is_some_and(|mode| mode.split(',').any(|flag| flag == "ro")),
                }
            }
            long => Mount {
                kind: long["type"].as_str().unwrap_or("volume").to_owned(),
                source: long["source"].as_str().unwrap_or_default().to_owned(),
                target: long["target"].as_str().unwrap_or_default().to_owned(),
                read_only: long["read_only"].as_bool().unwrap_or(false),
            },
        })
        .collect()
}

fn is_within(path: &str, dir: &str) -> bool {
    let path = Path::new(path);
    let dir = Path::new(dir);
    path.starts_with(dir)
}

// ---------------------------------------------------------------------------
// Dockerfile and nginx helpers
// ---------------------------------------------------------------------------

/// Dockerfile instructions as (KEYWORD, arguments), continuation lines joined and
/// comment lines dropped.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (keyword, arguments) = current
            .split_once(char::is_whitespace)
            .unwrap_or((&current, ""));
        instructions.push((keyword.to_uppercase(), arguments.trim().to_owned()));
        current.clear();
    }
    instructions
}

/// The body of the first `location <path> { … }` block of an nginx file, with
/// comments removed and nested braces balanced.
fn nginx_location_block(text: &str, location: &str) -> Option<String> {
    let without_comments: String = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let tokens: Vec<&str> = without_comments.split_whitespace().collect();
    let opening = tokens
        .windows(3)
        .position(|window| window[0] == "location" && window[1] == location && window[2] == "{")?;
    let mut depth = 0usize;
    let mut body = Vec::new();
    for token in &tokens[opening + 2..] {
        depth += token.matches('{').count();
        let closing = token.matches('}').count();
        if closing >= depth {
            return Some(body.join(" "));
        }
        depth -= closing;
        if depth >= 1 && *token != "{" {
            body.push(*token);
        }
    }
    None
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[test]
fn every_yaml_file_under_deploy_parses_and_the_kubernetes_objects_are_all_there() {
    let files = yaml_files_under(&deploy_dir());
    assert!(
        files.iter().any(|file| file.ends_with("compose.yaml")),
        "deploy/compose.yaml is missing: {files:?}"
    );
    for file in &files {
        assert!(
            !yaml_documents(file).is_empty(),
            "{} holds no YAML document",
            file.display()
        );
    }
    let objects = kubernetes_objects();
    for kind in [
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "PodDisruptionBudget",
        "Ingress",
        "Job",
        "PersistentVolumeClaim",
    ] {
        assert!(
            !objects_of_kind(&objects, kind).is_empty(),
            "deploy/k8s defines no {kind}"
        );
    }
    for object in &objects {
        assert!(
            !object.name().is_empty(),
            "{} has no metadata.name",
            object.describe()
        );
        assert!(
            object.value["metadata"]["namespace"].is_null(),
            "{} pins a namespace; the manifests are namespace-agnostic",
            object.describe()
        );
    }
}

#[test]
fn the_kustomization_lists_every_manifest_in_the_k8s_directory() {
    let dir = deploy_dir().join("k8s");
    let kustomization = yaml_documents(&dir.join("kustomization.yaml")).remove(0);
    let listed: BTreeSet<String> = strings(&kustomization["resources"]).into_iter().collect();
    let present: BTreeSet<String> = yaml_files_under(&dir)
        .iter()
        .map(|file| {
            file.strip_prefix(&dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name != "kustomization.yaml")
        .collect();
    assert_eq!(
        listed, present,
        "kustomization.yaml resources must be exactly the manifests in deploy/k8s"
    );
}

#[test]
fn the_api_deployment_runs_two_or_more_replicas_with_readiness_and_liveness_probes() {
    let objects = kubernetes_objects();
    let api = api_deployment(&objects);
    let replicas = api.value["spec"]["replicas"].as_u64().unwrap_or(1);
    assert!(
        replicas >= 2,
        "{} runs {replicas} replica(s); at least 2 are needed",
        api.describe()
    );
    let containers: Vec<&Value> = api
        .containers()
        .into_iter()
        .filter(|container| runs_command(container, "serve"))
        .collect();
    let container = containers[0];
    let environment = container_environment(&objects, container);
    let port: u64 = environment.get("SAFEPULSE_PORT").map_or(8080, |port| {
        port.parse().expect("SAFEPULSE_PORT is a number")
    });
    let ports = sequence(&container["ports"]);
    let http = ports
        .iter()
        .find(|declared| declared["containerPort"].as_u64() == Some(port))
        .unwrap_or_else(|| {
            panic!(
                "{}: no containerPort {port} (SAFEPULSE_PORT)",
                api.describe()
            )
        });
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(
            get["path"].as_str(),
            Some(path),
            "{}: {probe} must GET {path}",
            api.describe()
        );
        let probe_port = &get["port"];
        let matches_port = probe_port.as_u64() == Some(port)
            || (probe_port.is_string() && probe_port == &http["name"]);
        assert!(
            matches_port,
            "{}: {probe} port {probe_port:?} is not the HTTP port {port}",
            api.describe()
        );
    }
    let grace = api.pod_spec().unwrap()["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap_or(30);
    assert!(
        grace > 30,
        "{}: in-flight requests drain for up to 30 s; the grace period is {grace} s",
        api.describe()
    );
}

#[test]
fn every_container_requests_resources_and_runs_as_non_root_on_a_read_only_root() {
    let objects = kubernetes_objects();
    let workloads: Vec<&Object> = objects
        .iter()
        .filter(|object| object.pod_spec().is_some())
        .collect();
    assert!(
        workloads.len() >= 3,
        "expected the API, worker and migration workloads, found {}",
        workloads.len()
    );
    for workload in workloads {
        let pod = &workload.pod_spec().unwrap()["securityContext"];
        let containers = workload.containers();
        assert!(
            !containers.is_empty(),
            "{} has no containers",
            workload.describe()
        );
        for container in containers {
            let what = format!(
                "{} container {:?}",
                workload.describe(),
                container["name"].as_str().unwrap_or("?")
            );
            let requests = &container["resources"]["requests"];
            assert!(
                !requests["cpu"].is_null() && !requests["memory"].is_null(),
                "{what}: resources.requests needs cpu and memory"
            );
            assert!(
                !container["resources"]["limits"]["memory"].is_null(),
                "{what}: resources.limits needs memory"
            );
            let own = &container["securityContext"];
            let non_root = own["runAsNonRoot"]
                .as_bool()
                .or_else(|| pod["runAsNonRoot"].as_bool());
            assert_eq!(non_root, Some(true), "{what}: runAsNonRoot must be true");
            let user = own["runAsUser"]
                .as_u64()
                .or_else(|| pod["runAsUser"].as_u64());
            assert_ne!(user, Some(0), "{what}: runs as uid 0");
            assert_eq!(
                own["readOnlyRootFilesystem"].as_bool(),
                Some(true),
                "{what}: readOnlyRootFilesystem must be true"
            );
            assert_eq!(
                own["allowPrivilegeEscalation"].as_bool(),
                Some(false),
                "{what}: allowPrivilegeEscalation must be false"
            );
        }
    }
}

#[test]
fn a_worker_deployment_runs_safepulse_worker_and_the_api_runs_without_the_in_process_worker() {
    let objects = kubernetes_objects();
    let worker = worker_deployment(&objects);
    let api = api_deployment(&objects);
    assert_ne!(worker.name(), api.name());
    for deployment in [api, worker] {
        for container in deployment.containers() {
            let environment = container_environment(&objects, container);
            assert_eq!(
                environment
                    .get("SAFEPULSE_IN_PROCESS_WORKER")
                    .map(String::as_str),
                Some("false"),
                "{}: API replicas and workers must not also run the in-process worker",
                deployment.describe()
            );
            assert_eq!(
                environment.get("SAFEPULSE_MODE").map(String::as_str),
                Some("production"),
                "{}: production mode",
                deployment.describe()
            );
            let database = environment
                .get("SAFEPULSE_DATABASE_URL")
                .map(String::as_str)
                .unwrap_or_default();
            assert!(
                database.starts_with("postgres://"),
                "{}: replicas need PostgreSQL, got {database:?}",
                deployment.describe()
            );
        }
    }
    let migrations: Vec<&Object> = objects_of_kind(&objects, "Job")
        .into_iter()
        .filter(|job| {
            job.containers()
                .iter()
                .any(|container| runs_command(container, "migrate"))
        })
        .collect();
    assert_eq!(migrations.len(), 1, "one Job runs `safepulse migrate`");
}

#[test]
fn the_pod_disruption_budget_and_the_service_select_the_api_pods_and_only_them() {
    let objects = kubernetes_objects();
    let api_labels = api_deployment(&objects).pod_labels();
    let worker_labels = worker_deployment(&objects).pod_labels();

    let budgets = objects_of_kind(&objects, "PodDisruptionBudget");
    let budget = budgets
        .iter()
        .find(|budget| {
            selects(
                &string_map(&budget.value["spec"]["selector"]["matchLabels"]),
                &api_labels,
            )
        })
        .unwrap_or_else(|| panic!("no PodDisruptionBudget selects the API pods {api_labels:?}"));
    let selector = string_map(&budget.value["spec"]["selector"]["matchLabels"]);
    assert!(
        !selects(&selector, &worker_labels),
        "{} also selects the worker pods",
        budget.describe()
    );
    let min_available = budget.value["spec"]["minAvailable"].as_u64();
    let max_unavailable = budget.value["spec"]["maxUnavailable"].as_u64();
    assert!(
        min_available.is_some_and(|n| n >= 1) || max_unavailable.is_some_and(|n| n >= 1),
        "{} must keep at least one API pod (minAvailable ≥ 1) or allow a bounded disruption",
        budget.describe()
    );

    let api = api_deployment(&objects);
    let container = api
        .containers()
        .into_iter()
        .find(|container| runs_command(container, "serve"))
        .unwrap();
    let service = objects_of_kind(&objects, "Service")
        .into_iter()
        .find(|service| selects(&string_map(&service.value["spec"]["selector"]), &api_labels))
        .unwrap_or_else(|| panic!("no Service selects the API pods {api_labels:?}"));
    assert!(
        !selects(
            &string_map(&service.value["spec"]["selector"]),
            &worker_labels
        ),
        "{} also routes to the worker pods",
        service.describe()
    );
    for port in sequence(&service.value["spec"]["ports"]) {
        let target = &port["targetPort"];
        let reaches_container = sequence(&container["ports"]).iter().any(|declared| {
            (target.is_string() && &declared["name"] == target)
                || target
                    .as_u64()
                    .is_some_and(|number| declared["containerPort"].as_u64() == Some(number))
        });
        assert!(
            reaches_container,
            "{}: targetPort {target:?} is not a port of the API container",
            service.describe()
        );
    }
}

#[test]
fn the_keys_come_from_a_secret_mounted_read_only_outside_the_data_directory() {
    let objects = kubernetes_objects();
    for deployment in [api_deployment(&objects), worker_deployment(&objects)] {
        let pod = deployment.pod_spec().unwrap();
        for container in deployment.containers() {
            let environment = container_environment(&objects, container);
            let secrets_dir = environment
                .get("SAFEPULSE_SECRETS_DIR")
                .expect("SAFEPULSE_SECRETS_DIR is set")
                .clone();
            let data_dir = environment
                .get("SAFEPULSE_DATA_DIR")
                .expect("SAFEPULSE_DATA_DIR is set")
                .clone();
            assert!(
                !is_within(&secrets_dir, &data_dir) && !is_within(&data_dir, &secrets_dir),
                "{}: the secrets dir {secrets_dir} and the data dir {data_dir} must not nest",
                deployment.describe()
            );
            let mount = sequence(&container["volumeMounts"])
                .into_iter()
                .find(|mount| mount["mountPath"].as_str() == Some(secrets_dir.as_str()))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: nothing is mounted at {secrets_dir}",
                        deployment.describe()
                    )
                });
            assert_eq!(
                mount["readOnly"].as_bool(),
                Some(true),
                "{}: the keys are mounted read-only",
                deployment.describe()
            );
            let volume_name = mount["name"].as_str().unwrap();
            let volume = sequence(&pod["volumes"])
                .into_iter()
                .find(|volume| volume["name"].as_str() == Some(volume_name))
                .unwrap_or_else(|| panic!("{}: no volume {volume_name}", deployment.describe()));
            let secret_name = volume["secret"]["secretName"].as_str().unwrap_or_else(|| {
                panic!(
                    "{}: the keys volume must be a Secret",
                    deployment.describe()
                )
            });
            let secret = object(&objects, "Secret", secret_name)
                .unwrap_or_else(|| panic!("Secret {secret_name} is not defined in deploy/k8s"));
            let entries = secret_entries(secret);
            for kind in ["master", "jwt"] {
                let keys: Vec<(&String, &String)> = entries
                    .iter()
                    .filter(|(name, _)| {
                        name.starts_with(&format!("{kind}-")) && name.ends_with(".key")
                    })
                    .collect();
                assert!(
                    !keys.is_empty(),
                    "{}: no {kind}-<id>.key entry",
                    secret.describe()
                );
                for (name, value) in keys {
                    assert!(
                        value.contains("REPLACE-ME"),
                        "{}: {name} must be a clearly marked placeholder, never a real key in git",
                        secret.describe()
                    );
                }
            }
        }
    }
    let secret_file = read(&deploy_dir().join("k8s").join("secret.yaml"));
    assert!(
        secret_file.contains("head -c 32 /dev/urandom | base64"),
        "secret.yaml must say how to generate a key"
    );
}

/// Every API replica and the worker read and write one round keyring: a writable
/// ReadWriteMany volume, outside the data directory and the secrets, so that a
/// salt written by the pod that opened a round is there for the pods that take its
/// answers and the one that closes it.
#[test]
fn every_pod_shares_one_writable_round_keyring_outside_the_data_and_the_secrets() {
    let objects = kubernetes_objects();
    let mut claims = BTreeSet::new();
    for deployment in [api_deployment(&objects), worker_deployment(&objects)] {
        let pod = deployment.pod_spec().unwrap();
        for container in deployment.containers() {
            let environment = container_environment(&objects, container);
            let keyring = environment
                .get("SAFEPULSE_ROUND_KEYRING_DIR")
                .expect("SAFEPULSE_ROUND_KEYRING_DIR is set")
                .clone();
            for other in ["SAFEPULSE_DATA_DIR", "SAFEPULSE_SECRETS_DIR"] {
                let dir = &environment[other];
                assert!(
                    !is_within(&keyring, dir) && !is_within(dir, &keyring),
                    "{}: the keyring {keyring} and {other} {dir} must not nest",
                    deployment.describe()
                );
            }
            let mount = sequence(&container["volumeMounts"])
                .into_iter()
                .find(|mount| mount["mountPath"].as_str() == Some(keyring.as_str()))
                .unwrap_or_else(|| {
                    panic!("{}: nothing is mounted at {keyring}", deployment.describe())
                });
            assert_ne!(
                mount["readOnly"].as_bool(),
                Some(true),
                "the keyring is written at open and close"
            );
            let volume_name = mount["name"].as_str().unwrap();
            let volume = sequence(&pod["volumes"])
                .into_iter()
                .find(|volume| volume["name"].as_str() == Some(volume_name))
                .unwrap();
            let claim = volume["persistentVolumeClaim"]["claimName"]
                .as_str()
                .unwrap_or_else(|| {
                    panic!(
                        "{}: the keyring must be a shared claim",
                        deployment.describe()
                    )
                });
            claims.insert(claim.to_owned());
        }
    }
    assert_eq!(claims.len(), 1, "one keyring for every pod: {claims:?}");
    let claim = object(&objects, "PersistentVolumeClaim", claims.first().unwrap())
        .expect("the claim is defined");
    assert!(
        strings(&claim.value["spec"]["accessModes"]).contains(&"ReadWriteMany".to_owned()),
        "pods on several nodes share it"
    );
    let compose = compose();
    let mut sources = BTreeSet::new();
    for name in ["api", "worker"] {
        let service = compose_service(&compose, name);
        let keyring = compose_environment(service)["SAFEPULSE_ROUND_KEYRING_DIR"].clone();
        let mount = compose_mounts(service)
            .into_iter()
            .find(|mount| mount.target == keyring)
            .unwrap_or_else(|| panic!("compose {name}: nothing is mounted at {keyring}"));
        assert!(!mount.read_only, "compose {name}: the keyring is writable");
        sources.insert(mount.source.clone());
    }
    assert_eq!(sources.len(), 1, "api and worker share one keyring volume");
}

#[test]
fn the_settings_in_the_kubernetes_manifests_are_a_valid_production_config() {
    let objects = kubernetes_objects();
    for workload in objects.iter().filter(|object| object.pod_spec().is_some()) {
        for container in workload.containers() {
            let environment = container_environment(&objects, container);
            let config = config_from_environment(&environment, &workload.describe());
            assert_eq!(config.mode, Mode::Production, "{}", workload.describe());
            assert!(!config.in_process_worker, "{}", workload.describe());
            assert!(
                config.smtp.is_some(),
                "{}: production sends email through SMTP",
                workload.describe()
            );
            assert!(
                config.database_url().starts_with("postgres://"),
                "{}",
                workload.describe()
            );
            assert!(
                !config.secrets_dir.starts_with(&config.data_dir),
                "{}",
                workload.describe()
            );
            assert_eq!(
                config.bind.to_string(),
                "0.0.0.0",
                "{}: listen on the pod's address",
                workload.describe()
            );
            assert!(
                !config.trusted_proxies.is_empty(),
                "{}: behind the ingress, the sign-in limits need the forwarded client",
                workload.describe()
            );
        }
    }
}

#[test]
fn the_ingress_keeps_answer_links_out_of_access_logs() {
    let objects = kubernetes_objects();
    let ingresses = objects_of_kind(&objects, "Ingress");
    let api_service = objects_of_kind(&objects, "Service")
        .into_iter()
        .find(|service| {
            selects(
                &string_map(&service.value["spec"]["selector"]),
                &api_deployment(&objects).pod_labels(),
            )
        })
        .expect("a Service for the API");
    let mut answer_hosts = BTreeSet::new();
    let mut other_hosts = BTreeSet::new();
    for ingress in &ingresses {
        let annotations = string_map(&ingress.value["metadata"]["annotations"]);
        let access_log_off = annotations
            .get("nginx.ingress.kubernetes.io/enable-access-log")
            .map(String::as_str)
            == Some("false")
            || ["configuration-snippet", "server-snippet"]
                .iter()
                .any(|snippet| {
                    annotations
                        .get(&format!("nginx.ingress.kubernetes.io/{snippet}"))
                        .is_some_and(|text| text.contains("access_log off"))
                });
        for rule in sequence(&ingress.value["spec"]["rules"]) {
            let host = rule["host"].as_str().unwrap_or("*").to_owned();
            for path in sequence(&rule["http"]["paths"]) {
                let service = path["backend"]["service"]["name"]
                    .as_str()
                    .unwrap_or_default();
                assert_eq!(
                    service,
                    api_service.name(),
                    "{}: routes to an unknown Service",
                    ingress.describe()
                );
                let prefix = path["path"].as_str().unwrap_or("/");
                if prefix.trim_end_matches('/') == "/r" {
                    assert!(
                        access_log_off,
                        "{}: serves /r/ answer links but does not turn access logging off",
                        ingress.describe()
                    );
                    answer_hosts.insert(host.clone());
                } else {
                    other_hosts.insert(host.clone());
                }
            }
        }
    }
    assert!(
        !answer_hosts.is_empty(),
        "no Ingress path for /r/ with access logging off"
    );
    for host in &other_hosts {
        assert!(
            answer_hosts.contains(host),
            "host {host} serves the app but has no /r/ path without access logs, so answer links would be logged"
        );
    }
}

#[test]
fn compose_runs_api_worker_postgres_and_mail_with_the_keys_outside_the_data_volume() {
    let compose = compose();
    let api = compose_service(&compose, "api");
    let worker = compose_service(&compose, "worker");
    let postgres = compose_service(&compose, "postgres");
    let mail = compose_service(&compose, "mail");

    assert_eq!(
        compose_command(api).first().map(String::as_str),
        Some("serve"),
        "the api service runs `serve`"
    );
    assert_eq!(
        compose_command(worker).first().map(String::as_str),
        Some("worker"),
        "the worker service runs `worker`"
    );
    assert!(
        mail["image"]
            .as_str()
            .unwrap_or_default()
            .contains("mailpit"),
        "the mail service is an SMTP catcher with a web inbox"
    );

    for (name, service) in [("api", api), ("worker", worker)] {
        let environment = compose_environment(service);
        let config = config_from_environment(&environment, &format!("compose.yaml service {name}"));
        assert_eq!(
            config.mode,
            Mode::Production,
            "compose {name}: production mode"
        );
        assert!(
            !config.in_process_worker,
            "compose {name}: the scheduler runs in the worker service only"
        );
        assert!(
            config.database_url().starts_with("postgres://"),
            "compose {name}: PostgreSQL"
        );
        assert!(
            !config.trusted_proxies.is_empty(),
            "compose {name}: behind nginx, the sign-in limits need the forwarded client"
        );
        let smtp = config
            .smtp
            .as_ref()
            .unwrap_or_else(|| panic!("compose {name}: SMTP must be configured"));
        assert_eq!(
            smtp.host, "mail",
            "compose {name}: email goes to the mail service by default"
        );

        let mounts = compose_mounts(service);
        let secrets_dir = config.secrets_dir.to_string_lossy().into_owned();
        let data_dir = config.data_dir.to_string_lossy().into_owned();
        let keys = mounts
            .iter()
            .find(|mount| mount.target == secrets_dir)
            .unwrap_or_else(|| {
                panic!("compose {name}: nothing is mounted at the secrets dir {secrets_dir}")
            });
        assert!(
            keys.read_only,
            "compose {name}: the keys are mounted read-only"
        );
        assert_eq!(
            keys.kind, "bind",
            "compose {name}: the keys come from a host directory, not a volume"
        );
        let data = mounts
            .iter()
            .find(|mount| mount.target == data_dir)
            .unwrap_or_else(|| {
                panic!("compose {name}: nothing is mounted at the data dir {data_dir}")
            });
        assert_ne!(
            data.source, keys.source,
            "compose {name}: keys and data share a source"
        );
        for mount in &mounts {
            if mount != keys {
                assert!(
                    !is_within(&keys.target, &mount.target)
                        && !is_within(&mount.target, &keys.target),
                    "compose {name}: {} and the keys at {} nest",
                    mount.target,
                    keys.target
                );
            }
        }
    }

    let command = compose_command(postgres).join(" ");
    for setting in ["log_statement=none", "log_min_duration_statement=-1"] {
        assert!(
            command.contains(setting),
            "compose postgres must run with {setting}: {command}"
        );
    }
    let check = &postgres["healthcheck"]["test"];
    assert!(
        strings(check)
            .iter()
            .any(|word| word.contains("pg_isready"))
            || check
                .as_str()
                .is_some_and(|line| line.contains("pg_isready")),
        "compose postgres needs a pg_isready healthcheck"
    );
    for name in ["api", "worker"] {
        let condition = compose["services"][name]["depends_on"]["postgres"]["condition"].as_str();
        assert_eq!(
            condition,
            Some("service_healthy"),
            "compose {name} waits for a healthy postgres"
        );
    }
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_as_a_non_root_user_with_a_healthcheck() {
    let instructions = dockerfile_instructions(&read(&deploy_dir().join("Dockerfile")));
    let stages: Vec<usize> = instructions
        .iter()
        .enumerate()
        .filter(|(_, (keyword, _))| keyword == "FROM")
        .map(|(index, _)| index)
        .collect();
    assert!(
        stages.len() >= 2,
        "the Dockerfile must be multi-stage, found {} FROM",
        stages.len()
    );
    let build = instructions
        .iter()
        .find(|(keyword, arguments)| keyword == "RUN" && arguments.contains("cargo build"));
    let (_, build) = build.expect("a RUN cargo build step");
    for flag in ["--release", "--locked", "safepulse-api"] {
        assert!(
            build.contains(flag),
            "the build step must use {flag}: {build}"
        );
    }
    let final_stage = &instructions[*stages.last().unwrap()..];
    assert!(
        final_stage
            .iter()
            .any(|(keyword, arguments)| keyword == "COPY" && arguments.contains("--from=")),
        "the runtime stage copies the binary from the build stage"
    );
    let user = final_stage
        .iter()
        .rev()
        .find(|(keyword, _)| keyword == "USER")
        .map(|(_, arguments)| arguments.clone())
        .expect("the runtime stage sets a USER");
    let user_name = user.split(':').next().unwrap_or_default();
    assert!(
        !matches!(user_name, "" | "root" | "0"),
        "the runtime USER must not be root: {user}"
    );
    let healthcheck = final_stage
        .iter()
        .find(|(keyword, _)| keyword == "HEALTHCHECK")
        .map(|(_, arguments)| arguments.clone())
        .expect("the runtime stage has a HEALTHCHECK");
    assert!(
        healthcheck.contains("/healthz"),
        "the HEALTHCHECK probes /healthz: {healthcheck}"
    );
    assert!(
        final_stage
            .iter()
            .any(|(keyword, arguments)| keyword == "EXPOSE"
                && arguments.split_whitespace().any(|port| port == "8080")),
        "the image EXPOSEs 8080"
    );
    let environment: String = final_stage
        .iter()
        .filter(|(keyword, _)| keyword == "ENV")
        .map(|(_, arguments)| arguments.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        environment.contains("SAFEPULSE_BIND=0.0.0.0"),
        "the image listens on all addresses: {environment}"
    );
    let data_dir = environment
        .split_whitespace()
        .find_map(|pair| pair.strip_prefix("SAFEPULSE_DATA_DIR="))
        .expect("SAFEPULSE_DATA_DIR");
    let secrets_dir = environment
        .split_whitespace()
        .find_map(|pair| pair.strip_prefix("SAFEPULSE_SECRETS_DIR="))
        .expect("SAFEPULSE_SECRETS_DIR");
    assert!(
        !is_within(secrets_dir, data_dir) && !is_within(data_dir, secrets_dir),
        "the image's secrets dir {secrets_dir} must be outside its data dir {data_dir}"
    );
}

#[test]
fn nginx_turns_off_access_logs_for_answer_links() {
    let text = read(&deploy_dir().join("nginx.conf"));
    let answers =
        nginx_location_block(&text, "/r/").expect("nginx.conf has a `location /r/ { … }` block");
    assert!(
        answers.contains("access_log off;"),
        "location /r/ must say `access_log off;`: {answers}"
    );
    assert!(
        answers.contains("proxy_pass"),
        "location /r/ must still proxy to the API: {answers}"
    );
    let everything =
        nginx_location_block(&text, "/").expect("nginx.conf has a `location / { … }` block");
    assert!(
        everything.contains("proxy_pass"),
        "location / proxies to the API: {everything}"
    );
}

/// Every safepulse subcommand the Kubernetes manifests and compose.yaml run.
fn commands_run_by_the_deployment_files() -> BTreeSet<String> {
    let mut commands = BTreeSet::new();
    let objects = kubernetes_objects();
    for workload in objects.iter().filter(|object| object.pod_spec().is_some()) {
        for container in workload.containers() {
            commands.insert(
                subcommand(container)
                    .unwrap_or_else(|| panic!("{}: no safepulse command", workload.describe())),
            );
        }
    }
    let compose = compose();
    for (name, service) in compose["services"].as_mapping().expect("compose services") {
        let image = service["image"].as_str().unwrap_or_default();
        if image.contains("safepulse") {
            let command = compose_command(service);
            let first = command
                .first()
                .unwrap_or_else(|| panic!("compose {name:?}: no command"));
            commands.insert(first.clone());
        }
    }
    commands
}

fn assert_the_binary_knows(command: &str) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_safepulse-under-test"))
        .args([command, "--help"])
        .output()
        .expect("run the safepulse binary");
    assert!(
        output.status.success(),
        "`safepulse {command}` is run by the deployment files but the binary does not know it: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_commands_the_deployment_files_run_exist_in_the_safepulse_binary() {
    let commands = commands_run_by_the_deployment_files();
    for expected in ["serve", "worker", "migrate"] {
        assert!(
            commands.contains(expected),
            "no deployment file runs `safepulse {expected}`: {commands:?}"
        );
    }
    for command in &commands {
        assert_the_binary_knows(command);
    }
}
