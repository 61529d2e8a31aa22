//! The committed `openapi/openapi.json` must be exactly what the code generates.

#[test]
fn committed_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).expect("openapi/openapi.json exists");
    let generated = workbench_app::openapi::document_json();
    assert!(committed == generated, "openapi/openapi.json is stale: run `make openapi` and commit the result");
}

#[test]
fn every_operation_is_documented_with_errors_and_security() {
    let doc: serde_json::Value = serde_json::from_str(&workbench_app::openapi::document_json()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let where_ = format!("{method} {path}");
            assert!(op["operationId"].is_string(), "{where_} has no operationId");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{where_} has no tag");
            let responses = op["responses"].as_object().unwrap();
            // A redirect is the success of a browser-facing route (the start of an OAuth sign-in).
            let success = |s: &String| s.starts_with('2') || s == "302";
            assert!(responses.keys().any(success), "{where_} documents no success");
            let public = path.starts_with("/api/v1/auth/") && !path.ends_with("/me") || !path.starts_with("/api/");
            if !public {
                assert!(op["security"].is_array(), "{where_} needs the bearer security requirement");
                assert!(responses.contains_key("401"), "{where_} must document 401");
            }
        }
    }
}
