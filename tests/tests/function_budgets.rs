//! Every HTTP function's slowest request fits inside its Lambda timeout: what the request waits
//! on, one thing after another (outbound calls at the outbound timeout, AI calls at the AI
//! timeout of the function's configuration, another sync's refresh at the lease wait), read
//! from the configuration defaults and template.yaml's settings, plus a margin for the store
//! writes around them, must not exceed the function's `Timeout` in template.yaml. Lambda would
//! otherwise stop a function between spending a single-use code or refresh token and storing
//! what it bought.
//!
//! The waits per function are counted in the code (named beside each); a function added to the
//! template without its count fails the suite.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use posthorn::adapters::ai::AiConfig;
use posthorn::adapters::outbound::REQUEST_TIMEOUT;
use posthorn::config::Config;
use posthorn::model::posts::MAX_TARGETS;
use posthorn::services::automations::CONCURRENT_AI_CALLS;
use posthorn::services::connections::MAX_LEASE_WAIT;
use posthorn::services::connections::import::IMPORT_RUN;

/// One thing a request waits on.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// HTTP calls to a platform or a receiver, each bounded by the outbound timeout.
    OutboundCalls(u32),
    /// AI calls, each bounded (retries included) by the function's AI timeout.
    AiCalls(u32),
    /// Another sync's refresh of the same connection.
    RefreshLease,
    /// Work a request starts only this long into it: a run deadline.
    RunFor(Duration),
}

use Wait::{AiCalls, OutboundCalls, RefreshLease, RunFor};

/// What each HTTP function's slowest request waits on.
const SLOWEST_REQUESTS: &[(&str, &[Wait])] = &[
    // POST /v1/webhooks: the verification ping (api/webhooks/endpoints.rs).
    ("webhooks", &[OutboundCalls(1)]),
    // POST /v1/posts and PATCH only check media URLs with the SSRF guard; POST /v1/posts/validate
    // reads every item at once within media::READ_BUDGET (20 s, shorter than what follows).
    // POST /v1/posts/{id}/unpublish deletes every target at once, each with a fresh token
    // (services/unpublish.rs).
    ("posts", &[RefreshLease, OutboundCalls(2), RefreshLease, OutboundCalls(2)]),
    ("automations", &[]),
    // DELETE /v1/connections/{id}: the platform's revoke (services/connections/disconnect.rs).
    ("connections", &[OutboundCalls(1)]),
    // A Facebook callback: the code, the long-lived token, the granted permissions
    // (adapters/platforms/meta_login.rs), then the profile (services/connections/connect.rs).
    ("connect", &[OutboundCalls(4)]),
    // A fresh token (waiting out another refresh, then a refresh) and the profile read; when the
    // platform refuses the token, the same again (services/connections/sync.rs).
    ("sync", &[RefreshLease, OutboundCalls(2), RefreshLease, OutboundCalls(2)]),
    // POST /v1/interactions/{id}/reply: a fresh token and the platform's answer; when the
    // platform refuses the token, the same again (services/inbox/reply.rs).
    ("inbox", &[RefreshLease, OutboundCalls(2), RefreshLease, OutboundCalls(2)]),
    // A platform's push is checked and stored; nothing is called (services/inbox/push.rs).
    ("platform-webhooks", &[]),
    // Keys are read and written in the store; nothing is called (api/keys.rs).
    ("api-keys", &[]),
    // The answer, then a shorter one when it is over the platform's limit (api/assist.rs,
    // services/fit.rs).
    ("text-assist", &[AiCalls(2)]),
    ("media-assist", &[AiCalls(1)]),
    // Two AI calls per target channel, a few channels at a time (services/automations/generate.rs).
    ("generate-content", &[AiCalls(GENERATION_ROUNDS * 2)]),
    // Pages of the platform's channel list (one call each) and channel writes until the run
    // deadline, then the last page: a fresh token and the call, twice if the platform refuses
    // the token (services/connections/import.rs).
    ("import-channels", &[RunFor(IMPORT_RUN), RefreshLease, OutboundCalls(2), RefreshLease, OutboundCalls(2)]),
];

/// How many rounds of AI calls a run for the most channels an automation may target makes.
const GENERATION_ROUNDS: u32 = MAX_TARGETS.div_ceil(CONCURRENT_AI_CALLS) as u32;

/// Room around the waits: store reads and writes, DNS, a cold start's set-up.
const MARGIN: Duration = Duration::from_secs(3);

/// A function of template.yaml, as far as its budget goes.
#[derive(Debug)]
struct TemplateFunction {
    timeout: Duration,
    http: bool,
    /// Its literal `POSTHORN_AI_*` settings (parameters left out: they default).
    ai_settings: BTreeMap<String, String>,
}

fn template() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
    std::fs::read_to_string(root.join("template.yaml")).expect("template.yaml")
}

/// Every function of the template by its `Binary`, with the Globals' timeout where it sets none.
fn template_functions(template: &str) -> BTreeMap<String, TemplateFunction> {
    let (globals, resources) = template.split_once("\nResources:\n").expect("a Resources section");
    let global_timeout = timeout_in(globals.lines()).expect("a Globals timeout");
    let mut functions = BTreeMap::new();
    for block in resource_blocks(resources) {
        if !block.iter().any(|line| line.trim() == "Type: AWS::Serverless::Function") {
            continue;
        }
        let binary = block.iter().find_map(|line| line.trim().strip_prefix("Binary: ")).expect("a Binary");
        let function = TemplateFunction {
            timeout: timeout_in(block.iter().copied()).unwrap_or(global_timeout),
            http: block.iter().any(|line| line.trim() == "Type: HttpApi" || line.trim() == "FunctionUrlConfig:"),
            ai_settings: block.iter().filter_map(|line| literal_ai_setting(line)).collect(),
        };
        functions.insert(binary.to_string(), function);
    }
    functions
}

/// The lines of each resource: from a two-space-indented name to the next.
fn resource_blocks(resources: &str) -> Vec<Vec<&str>> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in resources.lines() {
        let starts_resource = line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':');
        match blocks.last_mut() {
            Some(block) if !starts_resource => block.push(line),
            _ => blocks.push(vec![line]),
        }
    }
    blocks
}

fn timeout_in<'a>(mut lines: impl Iterator<Item = &'a str>) -> Option<Duration> {
    lines.find_map(|line| line.trim().strip_prefix("Timeout: ")).map(|seconds| {
        Duration::from_secs(seconds.parse().unwrap_or_else(|_| panic!("Timeout: {seconds} is not seconds")))
    })
}

fn literal_ai_setting(line: &str) -> Option<(String, String)> {
    let (name, value) = line.trim().split_once(": ")?;
    let value = value.trim_matches('"');
    (name.starts_with("POSTHORN_AI_") && !value.starts_with('!')).then(|| (name.to_string(), value.to_string()))
}

/// The AI timeout the function runs with against an HTTP provider (the offline one calls
/// nothing): the configuration defaults, with the template's literal settings.
fn ai_timeout(function: &TemplateFunction) -> Duration {
    let lookup = |name: &str| match name {
        "POSTHORN_AI_PROVIDER" => Some("openai".to_string()),
        _ => function.ai_settings.get(name).cloned(),
    };
    match Config::from_lookup(lookup).expect("the function's configuration").ai {
        AiConfig::OpenAi(openai) => openai.timeout,
        AiConfig::Offline => unreachable!("the provider is openai"),
    }
}

fn budget(waits: &[Wait], function: &TemplateFunction) -> Duration {
    waits
        .iter()
        .map(|wait| match *wait {
            OutboundCalls(calls) => REQUEST_TIMEOUT * calls,
            AiCalls(calls) => ai_timeout(function) * calls,
            RefreshLease => MAX_LEASE_WAIT,
            RunFor(run) => run,
        })
        .sum()
}

#[test]
fn every_http_function_fits_its_slowest_request_in_its_timeout() {
    let functions = template_functions(&template());
    let mut over = Vec::new();
    for (name, waits) in SLOWEST_REQUESTS {
        let function = functions.get(*name).unwrap_or_else(|| panic!("{name} is not in template.yaml"));
        let needed = budget(waits, function) + MARGIN;
        if needed > function.timeout {
            over.push(format!(
                "{name}: {waits:?} need {needed:?} with the margin, its Timeout is {:?}",
                function.timeout
            ));
        }
    }
    assert!(over.is_empty(), "functions Lambda could stop mid-request:\n{}", over.join("\n"));
}

#[test]
fn every_http_function_of_the_template_has_its_waits_counted() {
    let functions = template_functions(&template());
    let http: BTreeSet<&str> =
        functions.iter().filter(|(_, function)| function.http).map(|(name, _)| name.as_str()).collect();
    let counted: BTreeSet<&str> = SLOWEST_REQUESTS.iter().map(|(name, _)| *name).collect();
    assert_eq!(http, counted);
}

#[test]
fn the_template_is_read_as_written() {
    let functions = template_functions(&template());
    assert_eq!(functions["webhooks"].timeout, Duration::from_secs(29), "the Globals timeout");
    assert_eq!(functions["process-queue"].timeout, Duration::from_secs(55));
    assert!(!functions["deliver-webhooks"].http);
    assert_eq!(functions["media-assist"].ai_settings["POSTHORN_AI_TIMEOUT_SECONDS"], "25");
    assert!(functions["text-assist"].ai_settings.is_empty(), "parameters are not literal settings");
}
