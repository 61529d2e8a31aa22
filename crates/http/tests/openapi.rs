//! The committed `openapi/openapi.json` must be exactly what the code generates.

#[test]
fn committed_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).expect("openapi/openapi.json exists");
    let generated = workbench_http::openapi::document_json();
    assert!(committed == generated, "openapi/openapi.json is stale: run `make openapi` and commit the result");
}

#[test]
fn every_operation_is_documented_with_errors_and_security() {
    let doc: serde_json::Value = serde_json::from_str(&workbench_http::openapi::document_json()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let where_ = format!("{method} {path}");
            assert!(op["operationId"].is_string(), "{where_} has no operationId");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{where_} has no tag");
            let responses = op["responses"].as_object().unwrap();
            // A redirect is the success of a browser-facing route (the start of an OAuth sign-in);
            // switching protocols, the WebSocket's.
            let success = |s: &String| s.starts_with('2') || s == "302" || s == "101";
            assert!(responses.keys().any(success), "{where_} documents no success");
            // The catalogue is read by anyone (contract: "public catalogue").
            let catalogue =
                method == "get" && (path.starts_with("/api/v1/categories") || path.starts_with("/api/v1/products"));
            // Inbound webhooks authenticate by the provider's signature, not a bearer token.
            let inbound = path == "/api/v1/webhooks/github" || path == "/api/v1/webhooks/stripe";
            let public = path.starts_with("/api/v1/auth/") && !path.ends_with("/me")
                || !path.starts_with("/api/")
                || catalogue
                || inbound;
            if !public {
                assert!(op["security"].is_array(), "{where_} needs the bearer security requirement");
                assert!(responses.contains_key("401"), "{where_} must document 401");
            }
        }
    }
}

#[test]
fn every_reference_resolves() {
    fn refs<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                    found.push(target);
                }
                map.values().for_each(|v| refs(v, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    let doc: serde_json::Value = serde_json::from_str(&workbench_http::openapi::document_json()).unwrap();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("{target} is not local"));
        assert!(doc.pointer(pointer).is_some(), "{target} names nothing in the document");
    }
}
