//! What `sam deploy` sets up to operate the API, read from `template.yaml`:
//! every function has its log group with a retention and an Errors and a
//! Throttles alarm; the API writes a JSON access log that carries the
//! request id the functions log; every API alarm uses the HTTP API's metric
//! names and dimensions; X-Ray is a parameter, off by default.

use std::collections::BTreeSet;

use yaml_rust2::{Yaml, YamlLoader};

fn template() -> Yaml {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    YamlLoader::load_from_str(&text).expect("YAML").remove(0)
}

fn resources(template: &Yaml, kind: &str) -> Vec<(String, Yaml)> {
    template["Resources"]
        .as_hash()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(name, r)| (name.as_str().unwrap().to_owned(), r.clone()))
        .collect()
}

/// `!Ref X` reads as the plain string `X` (the tag is dropped).
fn refers_to(value: &Yaml, name: &str) -> bool {
    value.as_str() == Some(name)
}

fn retention_is_a_parameter(template: &Yaml, group: &Yaml, what: &str) {
    let retention = group["Properties"]["RetentionInDays"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no RetentionInDays"));
    let parameter = &template["Parameters"][retention];
    assert_eq!(
        parameter["Default"].as_i64(),
        Some(30),
        "{what}: {retention}"
    );
}

#[test]
fn every_function_has_a_log_group_with_retention_and_its_alarms() {
    let template = template();
    let groups = resources(&template, "AWS::Logs::LogGroup");
    let alarms = resources(&template, "AWS::CloudWatch::Alarm");
    let functions = resources(&template, "AWS::Serverless::Function");
    // One function per route.
    assert_eq!(functions.len(), shared::routes::ROUTES.len());
    for (name, function) in &functions {
        let group_name = function["Properties"]["LoggingConfig"]["LogGroup"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no LoggingConfig.LogGroup"));
        let (_, group) = groups
            .iter()
            .find(|(g, _)| g == group_name)
            .unwrap_or_else(|| panic!("{name}: log group {group_name} is not declared"));
        retention_is_a_parameter(&template, group, name);

        for metric in ["Errors", "Throttles"] {
            let found = alarms.iter().any(|(_, alarm)| {
                let p = &alarm["Properties"];
                p["Namespace"].as_str() == Some("AWS/Lambda")
                    && p["MetricName"].as_str() == Some(metric)
                    && p["Dimensions"].as_vec().is_some_and(|d| {
                        d.len() == 1
                            && d[0]["Name"].as_str() == Some("FunctionName")
                            && refers_to(&d[0]["Value"], name)
                    })
                    && !p["AlarmActions"].is_badvalue()
            });
            assert!(found, "{name}: no {metric} alarm on its FunctionName");
        }
    }
}

#[test]
fn the_api_writes_a_json_access_log_joinable_to_function_logs() {
    let template = template();
    let api = &template["Resources"]["TaskApi"]["Properties"];
    let settings = &api["AccessLogSettings"];
    let destination = settings["DestinationArn"]
        .as_str()
        .expect("AccessLogSettings.DestinationArn");
    // `!GetAtt Group.Arn`: the group is declared, with its retention.
    let group = destination.strip_suffix(".Arn").expect("a log group's Arn");
    let groups = resources(&template, "AWS::Logs::LogGroup");
    let (_, group) = groups
        .iter()
        .find(|(g, _)| g == group)
        .expect("the access log group is declared");
    retention_is_a_parameter(&template, group, "access log");

    let template_text = settings["Format"].as_str().expect("Format");
    // Numbers as the functions log them: unquoted variables, always set.
    for (field, variable) in [
        ("status", "$context.status"),
        ("latency_ms", "$context.responseLatency"),
    ] {
        assert!(
            template_text.contains(&format!("\"{field}\":{variable},")),
            "{field} is the number {variable}"
        );
    }
    // Every line is JSON once the variables are filled in.
    let filled = template_text
        .replace("$context.status", "200")
        .replace("$context.responseLatency", "12");
    let format: serde_json::Value = serde_json::from_str(&filled).expect("JSON format");
    // The functions log API Gateway's request id as `request_id`.
    assert_eq!(format["request_id"], "$context.requestId");
    for (field, variable) in [
        ("route", "$context.routeKey"),
        ("integration_latency_ms", "$context.integrationLatency"),
        ("error", "$context.error.message"),
        ("integration_error", "$context.integrationErrorMessage"),
        // Who called, to find and block abuse.
        ("source_ip", "$context.identity.sourceIp"),
        ("user_agent", "$context.identity.userAgent"),
    ] {
        assert_eq!(format[field], variable, "{field}");
    }
    // No user ids (in paths), tokens, or identity beyond those two.
    let text = format
        .to_string()
        .replace("$context.identity.sourceIp", "")
        .replace("$context.identity.userAgent", "");
    for leak in [
        "$context.path",
        "identity",
        "authorizer",
        "$context.requestOverride",
    ] {
        assert!(!text.contains(leak), "the access log carries {leak}");
    }
}

#[test]
fn api_alarms_use_the_http_api_metric_names_and_dimensions() {
    let template = template();
    let alarms = resources(&template, "AWS::CloudWatch::Alarm");
    // Every metric an alarm reads, single or in metric math.
    let mut api_metrics = BTreeSet::new();
    for (name, alarm) in &alarms {
        let p = &alarm["Properties"];
        let mut metrics: Vec<Yaml> = vec![p.clone()];
        if let Some(queries) = p["Metrics"].as_vec() {
            metrics.extend(
                queries
                    .iter()
                    .filter(|q| !q["MetricStat"].is_badvalue())
                    .map(|q| q["MetricStat"]["Metric"].clone()),
            );
        }
        for metric in metrics {
            if metric["Namespace"].as_str() != Some("AWS/ApiGateway") {
                continue;
            }
            let metric_name = metric["MetricName"].as_str().expect("MetricName");
            assert!(
                ["5xx", "4xx", "Count", "Latency", "IntegrationLatency"].contains(&metric_name),
                "{name}: {metric_name} is not an HTTP API metric"
            );
            let dimensions: Vec<&str> = metric["Dimensions"]
                .as_vec()
                .expect("Dimensions")
                .iter()
                .map(|d| d["Name"].as_str().unwrap())
                .collect();
            assert_eq!(dimensions, ["ApiId"], "{name}");
            let value = &metric["Dimensions"][0]["Value"];
            assert!(refers_to(value, "TaskApi"), "{name}: ApiId is the TaskApi");
            api_metrics.insert(metric_name.to_owned());
        }
    }
    // The 5xx rate (5xx over Count) and the p99 latency.
    assert_eq!(
        api_metrics,
        BTreeSet::from(["5xx".into(), "Count".into(), "Latency".into()])
    );
    let latency = alarms
        .iter()
        .find(|(_, a)| a["Properties"]["MetricName"].as_str() == Some("Latency"))
        .expect("a latency alarm");
    assert_eq!(
        latency.1["Properties"]["ExtendedStatistic"].as_str(),
        Some("p99")
    );
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    for rest_api_name in ["5XXError", "4XXError", "ApiName"] {
        assert!(!text.contains(rest_api_name), "{rest_api_name}");
    }
}

#[test]
fn alarms_notify_an_optional_email_or_topic() {
    let template = template();
    for parameter in ["AlarmEmail", "AlarmTopicArn"] {
        assert_eq!(
            template["Parameters"][parameter]["Default"].as_str(),
            Some(""),
            "{parameter} is optional"
        );
    }
    let topic = &template["Resources"]["AlarmTopic"];
    assert_eq!(topic["Type"].as_str(), Some("AWS::SNS::Topic"));
    assert_eq!(topic["Condition"].as_str(), Some("HasAlarmEmail"));
    for (name, alarm) in resources(&template, "AWS::CloudWatch::Alarm") {
        let actions = format!("{:?}", alarm["Properties"]["AlarmActions"]);
        assert!(
            actions.contains("AlarmTopic") && actions.contains("AlarmTopicArn"),
            "{name}: {actions}"
        );
    }
}

#[test]
fn x_ray_tracing_is_a_parameter_off_by_default() {
    let template = template();
    let parameter = &template["Parameters"]["XRayTracing"];
    assert_eq!(parameter["Default"].as_str(), Some("PassThrough"));
    assert!(refers_to(
        &template["Globals"]["Function"]["Tracing"],
        "XRayTracing"
    ));
}

/// Every function's concurrency is reserved from one parameter (0: none),
/// so that a flood is throttled by Lambda before it exhausts the
/// database's connections; no function sets its own.
#[test]
fn function_concurrency_is_one_parameter() {
    let template = template();
    let parameter = &template["Parameters"]["FunctionConcurrency"];
    assert_eq!(parameter["Type"].as_str(), Some("Number"));
    assert!(parameter["Default"].as_i64().is_some_and(|n| n > 0));
    let reserved = &template["Globals"]["Function"]["ReservedConcurrentExecutions"];
    // `!If [Condition, !Ref FunctionConcurrency, !Ref AWS::NoValue]`
    let choice = reserved.as_vec().expect("an !If");
    let condition = choice[0].as_str().expect("a condition");
    assert!(refers_to(&choice[1], "FunctionConcurrency"), "{choice:?}");
    assert!(refers_to(&choice[2], "AWS::NoValue"), "{choice:?}");
    let text = format!("{:?}", template["Conditions"][condition]);
    assert!(
        text.contains("FunctionConcurrency") && text.contains("Integer(0)"),
        "{condition}: {text}"
    );
    for (name, function) in resources(&template, "AWS::Serverless::Function") {
        assert!(
            function["Properties"]["ReservedConcurrentExecutions"].is_badvalue(),
            "{name} sets its own"
        );
    }
}

/// The limits a deploy sets: the per-user task limit reaches every
/// function from its parameter; plaintext to the database stays refused
/// unless the parameter says otherwise; the API throttles every route.
#[test]
fn the_abuse_limits_are_parameters_with_safe_defaults() {
    let template = template();
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    let limit = &template["Parameters"]["MaxTasksPerUser"];
    assert_eq!(limit["Default"].as_i64(), Some(100_000));
    assert_eq!(limit["MinValue"].as_i64(), Some(1));
    assert!(refers_to(
        &variables["MAX_TASKS_PER_USER"],
        "MaxTasksPerUser"
    ));
    let plaintext = &template["Parameters"]["DatabaseAllowPlaintext"];
    assert_eq!(plaintext["Default"].as_str(), Some("false"));
    assert!(refers_to(
        &variables["DATABASE_ALLOW_PLAINTEXT"],
        "DatabaseAllowPlaintext"
    ));
    let throttle = &template["Resources"]["TaskApi"]["Properties"]["DefaultRouteSettings"];
    assert!(
        throttle["ThrottlingBurstLimit"]
            .as_i64()
            .is_some_and(|n| n > 0)
    );
    assert!(
        throttle["ThrottlingRateLimit"]
            .as_i64()
            .is_some_and(|n| n > 0)
    );
}

/// Every string inside `value` (`!Ref X` reads as `X`, `!If [c, a, b]` as
/// the list `[c, a, b]`).
fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Array(items) => items.iter().flat_map(strings).collect(),
        Yaml::Hash(map) => map
            .iter()
            .flat_map(|(k, v)| strings(k).into_iter().chain(strings(v)))
            .collect(),
        _ => vec![],
    }
}

/// The environment of each function: the globals' with its own on top.
fn function_environments(template: &Yaml) -> Vec<(String, Vec<(String, Yaml)>)> {
    let globals = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_hash()
        .cloned()
        .unwrap_or_default();
    resources(template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(name, function)| {
            let mut env: Vec<(String, Yaml)> = globals
                .iter()
                .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
                .collect();
            if let Some(own) = function["Properties"]["Environment"]["Variables"].as_hash() {
                for (k, v) in own {
                    env.retain(|(name, _)| Some(name.as_str()) != k.as_str());
                    env.push((k.as_str().unwrap().to_owned(), v.clone()));
                }
            }
            (name, env)
        })
        .collect()
}

/// `lambda:GetFunctionConfiguration` (in AWS's ReadOnlyAccess) shows a
/// function's environment whole: no variable carries a secret parameter,
/// a dynamic reference (it resolves into the environment too), or a
/// secret's value; the secret variables are empty, and their `_SECRET_ARN`
/// twins name Secrets Manager secrets made from the NoEcho parameters.
#[test]
fn no_function_environment_carries_a_secret_value() {
    let template = template();
    let secret_parameters: Vec<String> = template["Parameters"]
        .as_hash()
        .unwrap()
        .iter()
        .filter(|(_, p)| p["NoEcho"].as_bool() == Some(true))
        .map(|(name, _)| name.as_str().unwrap().to_owned())
        .collect();
    for name in [
        "DatabaseUrl",
        "BetterAuthSecret",
        "BetterAuthSecretPrevious",
    ] {
        assert!(
            secret_parameters.iter().any(|p| p == name),
            "{name} is NoEcho"
        );
    }
    let secrets = resources(&template, "AWS::SecretsManager::Secret");
    for (function, env) in function_environments(&template) {
        for (variable, value) in &env {
            for text in strings(value) {
                assert!(
                    !secret_parameters.contains(&text)
                        && !text.contains("{{resolve:")
                        && !secret_parameters
                            .iter()
                            .any(|p| text.contains(&format!("${{{p}}}"))),
                    "{function}: {variable} carries a secret ({text})"
                );
            }
        }
        let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        for (variable, parameter) in [
            ("DATABASE_URL", "DatabaseUrl"),
            ("BETTER_AUTH_SECRET", "BetterAuthSecret"),
            ("BETTER_AUTH_SECRET_PREVIOUS", "BetterAuthSecretPrevious"),
        ] {
            if let Some(value) = get(variable) {
                assert_eq!(value.as_str(), Some(""), "{function}: {variable}");
            }
            let reference = get(&format!("{variable}_SECRET_ARN"))
                .unwrap_or_else(|| panic!("{function}: no {variable}_SECRET_ARN"));
            let (_, secret) = secrets
                .iter()
                .find(|(name, _)| strings(&reference).contains(name))
                .unwrap_or_else(|| panic!("{function}: {variable}_SECRET_ARN names no secret"));
            assert!(
                refers_to(&secret["Properties"]["SecretString"], parameter),
                "{variable}'s secret holds {parameter}"
            );
        }
    }
}

/// Each function may read its secrets and nothing else of Secrets Manager
/// (no wildcard), and runs with the extension that fetches them.
#[test]
fn functions_read_exactly_their_secrets_through_the_extension() {
    let template = template();
    let secrets: Vec<String> = resources(&template, "AWS::SecretsManager::Secret")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let policies = resources(&template, "AWS::IAM::ManagedPolicy");
    for (name, function) in resources(&template, "AWS::Serverless::Function") {
        let attached = function["Properties"]["Policies"]
            .as_vec()
            .unwrap_or_else(|| panic!("{name}: no Policies"));
        let mut readable = BTreeSet::new();
        for policy in attached {
            let (_, policy) = policies
                .iter()
                .find(|(p, _)| refers_to(policy, p))
                .unwrap_or_else(|| panic!("{name}: {policy:?} is not a policy of this template"));
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
                .as_vec()
                .unwrap()
            {
                assert_eq!(
                    statement["Action"].as_str(),
                    Some("secretsmanager:GetSecretValue")
                );
                for resource in strings(&statement["Resource"]) {
                    assert!(!resource.contains('*'), "{name}: {resource}");
                    if secrets.contains(&resource) {
                        readable.insert(resource);
                    }
                }
            }
        }
        let wanted: BTreeSet<String> = if name == "HealthFunction" {
            ["DatabaseUrlSecret".to_owned()].into()
        } else {
            secrets.iter().cloned().collect()
        };
        assert_eq!(readable, wanted, "{name}");
    }
    let layers = strings(&template["Globals"]["Function"]["Layers"]);
    assert!(
        layers.iter().any(|l| l == "SecretsExtensionLayerArn"),
        "{layers:?}"
    );
    let rule = &template["Rules"]["SecretsNeedTheExtension"]["Assertions"][0]["Assert"];
    assert!(strings(rule).contains(&"SecretsExtensionLayerArn".to_owned()));
}

/// With a JWKS, a deploy must say whose tokens it takes: the template
/// refuses a JwksUrl without JwtIssuer and JwtAudience, and an HS256
/// secret beside it unless AllowHs256; a secret shorter than 32 bytes is
/// refused by its parameter's pattern.
#[test]
fn a_deploy_binds_tokens_to_issuer_and_audience() {
    let template = template();
    let rule = &template["Rules"]["TokensAreBoundToIssuerAndAudience"];
    assert!(strings(&rule["RuleCondition"]).contains(&"JwksUrl".to_owned()));
    let asserted: Vec<Vec<String>> = rule["Assertions"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|a| strings(&a["Assert"]))
        .collect();
    for parameter in ["JwtIssuer", "JwtAudience", "AllowHs256"] {
        assert!(
            asserted.iter().any(|a| a.iter().any(|s| s == parameter)),
            "no assertion on {parameter}"
        );
    }
    for secret in ["BetterAuthSecret", "BetterAuthSecretPrevious"] {
        let pattern = template["Parameters"][secret]["AllowedPattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{secret}: no AllowedPattern"));
        assert_eq!(pattern, "(|.{32,})", "{secret}");
    }
    assert_eq!(
        template["Parameters"]["AllowHs256"]["Default"].as_str(),
        Some("false")
    );
}

/// No browser origin is allowed unless the deploy names one.
#[test]
fn cors_allows_no_origin_by_default() {
    let template = template();
    assert_eq!(
        template["Parameters"]["AllowedOrigins"]["Default"].as_str(),
        Some("")
    );
    let origins =
        &template["Resources"]["TaskApi"]["Properties"]["CorsConfiguration"]["AllowOrigins"];
    let parts = strings(origins);
    assert_eq!(
        parts,
        ["HasAllowedOrigins", "AllowedOrigins", "AWS::NoValue"],
        "AllowOrigins: {origins:?}"
    );
    let condition = strings(&template["Conditions"]["HasAllowedOrigins"]);
    assert!(
        condition.contains(&"AllowedOrigins".to_owned()),
        "{condition:?}"
    );
}
