//! Two-factor authentication: setup, enable with recovery codes (and the current password),
//! login with a code or a recovery code, and disable. Codes are computed here from the secret the
//! server hands out. The sign-in through a provider of an account with TOTP on is in `oauth.rs`.

use reqwest::Response;
use serde_json::{Value, json};
use workbench_e2e::{Account, PASSWORD, TestApp, engines, error_fields, expect_problem};

engines!(
    setup_shows_a_secret_until_enabled,
    enable_needs_a_valid_code_and_returns_recovery_codes,
    login_needs_a_fresh_code_once_enabled,
    a_recovery_code_works_once,
    disable_with_a_code_turns_it_off,
    wrong_codes_lock_the_second_factor,
    totp_routes_need_a_signed_in_user,
    enable_and_disable_need_the_current_password,
);

/// The current Unix time, in seconds.
pub(crate) fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).expect("after 1970")
}

/// The code an authenticator app shows for `secret` at Unix time `at`.
pub(crate) fn code_at(secret: &str, at: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).expect("the server's secret is base32");
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(secret)
        .build()
        .expect("valid TOTP parameters");
    totp.generate(at).to_string()
}

async fn json_of(res: Response, status: u16) -> Value {
    let (code, url) = (res.status().as_u16(), res.url().clone());
    let text = res.text().await.unwrap();
    assert_eq!(code, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

async fn setup(app: &TestApp, who: &Account) -> Response {
    app.post("/api/v1/auth/totp/setup").bearer_auth(&who.access_token).send().await.unwrap()
}

/// `POST /auth/totp/{action}` (`enable` or `disable`) with `body` as it is.
async fn totp_change(app: &TestApp, who: &Account, action: &str, body: Value) -> Response {
    app.post(&format!("/api/v1/auth/totp/{action}")).bearer_auth(&who.access_token).json(&body).send().await.unwrap()
}

/// Enables with `code` and the right password.
async fn enable(app: &TestApp, who: &Account, code: &str) -> Response {
    totp_change(app, who, "enable", json!({"code": code, "password": PASSWORD})).await
}

/// Disables with `code` and the right password.
async fn disable(app: &TestApp, who: &Account, code: &str) -> Response {
    totp_change(app, who, "disable", json!({"code": code, "password": PASSWORD})).await
}

async fn login(app: &TestApp, who: &Account, extra: Value) -> Response {
    let mut body = json!({"email": who.email, "password": PASSWORD});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    app.post("/api/v1/auth/login").json(&body).send().await.unwrap()
}

/// Sets up and enables TOTP for `who`; returns the secret, the Unix time of the enabling code and
/// the recovery codes.
async fn turn_on(app: &TestApp, who: &Account) -> (String, u64, Vec<String>) {
    let secret = json_of(setup(app, who).await, 200).await["secret"].as_str().unwrap().to_owned();
    let at = unix_now();
    let body = json_of(enable(app, who, &code_at(&secret, at)).await, 200).await;
    let codes = body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    (secret, at, codes)
}

async fn me(app: &TestApp, who: &Account) -> Value {
    json_of(app.get("/api/v1/auth/me").bearer_auth(&who.access_token).send().await.unwrap(), 200).await
}

/// Asserts a 401 whose type ends in `totp-required`.
async fn expect_totp_required(res: Response) {
    let problem = expect_problem(res, 401).await;
    assert!(problem["type"].as_str().unwrap().ends_with("totp-required"), "{problem}");
}

async fn setup_shows_a_secret_until_enabled(app: TestApp) {
    let ann = app.signup("ann").await;
    let first = json_of(setup(&app, &ann).await, 200).await;
    let secret = first["secret"].as_str().unwrap();
    assert!(secret.len() >= 26 && secret.chars().all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
    let url = first["otpauth_url"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    assert!(url.contains(&format!("secret={secret}")) && url.contains("issuer=Workbench"), "{url}");
    assert_eq!(me(&app, &ann).await["totp_enabled"], false, "setup alone does not turn it on");

    // Setting up again replaces the pending secret: only the new one enables.
    let second = json_of(setup(&app, &ann).await, 200).await;
    let new_secret = second["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    expect_problem(enable(&app, &ann, &code_at(secret, unix_now())).await, 422).await;
    json_of(enable(&app, &ann, &code_at(new_secret, unix_now())).await, 200).await;

    // Once enabled, the secret is never shown again.
    let problem = expect_problem(setup(&app, &ann).await, 409).await;
    assert!(!problem.to_string().contains(new_secret));
}

async fn enable_needs_a_valid_code_and_returns_recovery_codes(app: TestApp) {
    let ann = app.signup("ann").await;
    let problem = expect_problem(enable(&app, &ann, "123456").await, 409).await;
    assert!(problem["detail"].as_str().unwrap().contains("setup"), "enable before setup says what to do: {problem}");

    let secret = json_of(setup(&app, &ann).await, 200).await["secret"].as_str().unwrap().to_owned();
    for wrong in ["000000", "12345", "abcdef", ""] {
        let res = enable(&app, &ann, wrong).await;
        assert_eq!(error_fields(&expect_problem(res, 422).await), ["code"], "{wrong:?} is refused");
    }
    let missing = totp_change(&app, &ann, "enable", json!({})).await;
    assert_eq!(error_fields(&expect_problem(missing, 422).await), ["code", "password"], "every missing field");
    assert_eq!(me(&app, &ann).await["totp_enabled"], false);

    let body = json_of(enable(&app, &ann, &code_at(&secret, unix_now())).await, 200).await;
    let codes = body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::HashSet<_> = codes.iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(distinct.len(), 10, "every recovery code is different");
    assert_eq!(me(&app, &ann).await["totp_enabled"], true);
    expect_problem(enable(&app, &ann, &code_at(&secret, unix_now())).await, 409).await;
}

async fn login_needs_a_fresh_code_once_enabled(app: TestApp) {
    let ann = app.signup("ann").await;
    let (secret, enabled_at, _) = turn_on(&app, &ann).await;

    expect_totp_required(login(&app, &ann, json!({})).await).await;
    expect_totp_required(login(&app, &ann, json!({"totp_code": "000000"})).await).await;
    // A wrong password is still the generic 401, whatever the code.
    let wrong = app
        .post("/api/v1/auth/login")
        .json(&json!({"email": ann.email, "password": "wrong password", "totp_code": code_at(&secret, enabled_at)}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(wrong, 401).await;
    assert!(!problem["type"].as_str().unwrap().ends_with("totp-required"), "{problem}");

    // The code that turned it on still signs in (the user's next move, often on another device),
    // once; then the next step's code (one step ahead is accepted) works once.
    let first = code_at(&secret, enabled_at);
    assert_eq!(json_of(login(&app, &ann, json!({"totp_code": first})).await, 200).await["user"]["id"], ann.id);
    expect_totp_required(login(&app, &ann, json!({"totp_code": first})).await).await;
    let next = code_at(&secret, enabled_at + 30);
    let session = json_of(login(&app, &ann, json!({"totp_code": next})).await, 200).await;
    assert_eq!(session["user"]["totp_enabled"], true);
    let token = session["access_token"].as_str().unwrap();
    let res = app.get("/api/v1/auth/me").bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200, "the tokens of a two-factor login work");
    expect_totp_required(login(&app, &ann, json!({"totp_code": next})).await).await;

    // Other accounts are unaffected.
    let bob = app.signup("bob").await;
    json_of(login(&app, &bob, json!({})).await, 200).await;
}

async fn a_recovery_code_works_once(app: TestApp) {
    let ann = app.signup("ann").await;
    let (_, _, codes) = turn_on(&app, &ann).await;

    // Typed in capitals and without dashes, it still counts.
    let typed = codes[0].to_uppercase().replace('-', "");
    let session = json_of(login(&app, &ann, json!({"recovery_code": typed})).await, 200).await;
    assert_eq!(session["user"]["id"], ann.id);
    expect_totp_required(login(&app, &ann, json!({"recovery_code": codes[0]})).await).await;
    expect_totp_required(login(&app, &ann, json!({"recovery_code": "aaaa-bbbb-cccc-dddd"})).await).await;
    json_of(login(&app, &ann, json!({"recovery_code": codes[1]})).await, 200).await;

    // Another user's code does not open this account.
    let bob = app.signup("bob").await;
    let (_, _, bob_codes) = turn_on(&app, &bob).await;
    expect_totp_required(login(&app, &ann, json!({"recovery_code": bob_codes[0]})).await).await;
}

async fn disable_with_a_code_turns_it_off(app: TestApp) {
    let ann = app.signup("ann").await;
    expect_problem(disable(&app, &ann, "123456").await, 409).await;
    let (secret, enabled_at, codes) = turn_on(&app, &ann).await;

    assert_eq!(error_fields(&expect_problem(disable(&app, &ann, "000000").await, 422).await), ["code"]);
    // A code already spent (here on a sign-in) is refused.
    json_of(login(&app, &ann, json!({"totp_code": code_at(&secret, enabled_at)})).await, 200).await;
    expect_problem(disable(&app, &ann, &code_at(&secret, enabled_at)).await, 422).await;
    assert_eq!(me(&app, &ann).await["totp_enabled"], true, "a refused disable changes nothing");

    let res = disable(&app, &ann, &code_at(&secret, enabled_at + 30)).await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    assert_eq!(me(&app, &ann).await["totp_enabled"], false);
    json_of(login(&app, &ann, json!({})).await, 200).await;
    expect_problem(disable(&app, &ann, &codes[0]).await, 409).await;

    // Turning it on again starts over: a new secret, new recovery codes, the old ones dead.
    let (_, _, new_codes) = turn_on(&app, &ann).await;
    assert!(new_codes.iter().all(|c| !codes.contains(c)));
    expect_totp_required(login(&app, &ann, json!({"recovery_code": codes[2]})).await).await;
    // Someone who lost their device disables it with a recovery code.
    assert_eq!(disable(&app, &ann, &new_codes[0]).await.status(), 204);
    assert_eq!(me(&app, &ann).await["totp_enabled"], false);
}

async fn wrong_codes_lock_the_second_factor(app: TestApp) {
    let ann = app.signup("ann").await;
    let (secret, enabled_at, codes) = turn_on(&app, &ann).await;
    // Asking for the code is not a guess; wrong codes are.
    expect_totp_required(login(&app, &ann, json!({})).await).await;
    for _ in 0..4 {
        expect_totp_required(login(&app, &ann, json!({"totp_code": "000000"})).await).await;
    }
    let locked = login(&app, &ann, json!({"recovery_code": "wrong-code"})).await;
    let retry_after: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let problem = expect_problem(locked, 429).await;
    assert!(problem["type"].as_str().unwrap().ends_with("too-many-attempts"), "{problem}");

    // While locked, even a right code or recovery code is not checked (and not spent).
    expect_problem(login(&app, &ann, json!({"totp_code": code_at(&secret, enabled_at + 30)})).await, 429).await;
    expect_problem(login(&app, &ann, json!({"recovery_code": codes[0]})).await, 429).await;
    expect_problem(disable(&app, &ann, &codes[0]).await, 429).await;

    // Another account is not affected.
    let bob = app.signup("bob").await;
    let (bob_secret, bob_at, _) = turn_on(&app, &bob).await;
    json_of(login(&app, &bob, json!({"totp_code": code_at(&bob_secret, bob_at + 30)})).await, 200).await;
}

async fn totp_routes_need_a_signed_in_user(app: TestApp) {
    for path in ["/api/v1/auth/totp/setup", "/api/v1/auth/totp/enable", "/api/v1/auth/totp/disable"] {
        let res = app.post(path).json(&json!({"code": "123456"})).send().await.unwrap();
        expect_problem(res, 401).await;
    }
}

/// The fields a refused `POST /auth/totp/{action}` with `body` names.
async fn refused(app: &TestApp, who: &Account, action: &str, body: Value) -> Vec<String> {
    error_fields(&expect_problem(totp_change(app, who, action, body).await, 422).await)
}

async fn enable_and_disable_need_the_current_password(app: TestApp) {
    let ann = app.signup("ann").await;
    let secret = json_of(setup(&app, &ann).await, 200).await["secret"].as_str().unwrap().to_owned();
    let at = unix_now();
    let code = code_at(&secret, at);
    let enable_refused = |body: Value| refused(&app, &ann, "enable", body);
    assert_eq!(enable_refused(json!({"code": code})).await, ["password"], "no password");
    assert_eq!(enable_refused(json!({"code": code, "password": ""})).await, ["password"]);
    assert_eq!(enable_refused(json!({"code": code, "password": "not the password"})).await, ["password"]);
    assert_eq!(enable_refused(json!({"code": "000000"})).await, ["code", "password"], "both at once");
    assert_eq!(enable_refused(json!({"code": "000000", "password": PASSWORD})).await, ["code"]);
    assert_eq!(me(&app, &ann).await["totp_enabled"], false, "a refused enable changes nothing");
    json_of(enable(&app, &ann, &code).await, 200).await;

    let disable_refused = |body: Value| refused(&app, &ann, "disable", body);
    let next = code_at(&secret, at + 30);
    assert_eq!(disable_refused(json!({"code": next})).await, ["password"], "no password");
    let both = disable_refused(json!({"code": "000000", "password": "not the password"})).await;
    assert_eq!(both, ["password", "code"], "both at once");
    // A right code with a wrong password is refused and not spent: it still works after.
    assert_eq!(disable_refused(json!({"code": next, "password": "not the password"})).await, ["password"]);
    assert_eq!(me(&app, &ann).await["totp_enabled"], true);
    let res = totp_change(&app, &ann, "disable", json!({"code": next, "password": PASSWORD})).await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    assert_eq!(me(&app, &ann).await["totp_enabled"], false);
}
