//! Wire types of personal access tokens.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use workbench_core::TypeFailures;
use workbench_tokens::{DEFAULT_DAYS, IssuedToken, MAX_DAYS, NAME_MAX_CHARS, PersonalAccessToken, TokenDraft};

use crate::body::{Lenient, WHITESPACE_CLASS, component, lenient, nullable, patterned};

const _: () = assert!(DEFAULT_DAYS == 90 && MAX_DAYS == 365 && NAME_MAX_CHARS == 100);

/// The schema of a token's name as the domain reads it.
#[derive(Debug)]
pub struct TokenNameSchema;

component!(TokenNameSchema, "TokenName", {
    // Trimmed text of 1 to 100 characters, none of them a control character once trimmed.
    let (w, control) = (WHITESPACE_CLASS, "\\u0000-\\u001f\\u007f-\\u009f");
    let inner = NAME_MAX_CHARS - 2;
    let pattern = format!("^[{w}]*[^{w}{control}](?:[^{control}]{{0,{inner}}}[^{w}{control}])?[{w}]*$");
    patterned(
        pattern,
        "What the token is for, to tell it apart: 1 to 100 characters once trimmed, no control characters",
    )
    .examples(["nightly backup"])
});

/// The scopes a token may be granted (`:write` implies `:read`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TokenScope)]
pub enum ScopeSchema {
    #[serde(rename = "tasks:read")]
    TasksRead,
    #[serde(rename = "tasks:write")]
    TasksWrite,
    #[serde(rename = "projects:read")]
    ProjectsRead,
    #[serde(rename = "projects:write")]
    ProjectsWrite,
    #[serde(rename = "products:read")]
    ProductsRead,
    #[serde(rename = "products:write")]
    ProductsWrite,
    #[serde(rename = "files:read")]
    FilesRead,
    #[serde(rename = "files:write")]
    FilesWrite,
    #[serde(rename = "chat:read")]
    ChatRead,
    #[serde(rename = "chat:write")]
    ChatWrite,
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
    #[serde(rename = "profile:read")]
    ProfileRead,
}

/// `POST /tokens`.
#[derive(Default, Deserialize, ToSchema)]
pub struct CreateTokenRequest {
    #[schema(value_type = TokenNameSchema, required = true)]
    #[serde(default)]
    pub name: Lenient<String>,
    /// What the token may do: at least one scope; repeats are ignored. A route outside them
    /// answers `403` with a `type` ending in `insufficient-scope`.
    #[schema(value_type = Vec<ScopeSchema>, min_items = 1, required = true)]
    #[serde(default)]
    pub scopes: Lenient<Vec<String>>,
    /// Days until the token stops working: 1 to 365; 90 when left out.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 365, default = 90)]
    #[serde(default)]
    pub expires_in_days: Lenient<i64>,
    /// The account's current password: a session alone does not make a token that outlives it.
    /// Required when the account has one (`422` naming `password` when it is missing or wrong);
    /// an account made through a sign-in provider alone has none, leaves it out, and must have
    /// signed in within the last 10 minutes instead.
    #[schema(value_type = Option<String>, example = "correct horse battery")]
    #[serde(default)]
    pub password: Lenient<String>,
}

impl std::fmt::Debug for CreateTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateTokenRequest")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("expires_in_days", &self.expires_in_days)
            .finish_non_exhaustive()
    }
}

impl CreateTokenRequest {
    pub fn into_draft(self) -> TokenDraft {
        let mut type_failures = TypeFailures::default();
        let name = lenient("name", self.name, &mut type_failures);
        let scopes = lenient("scopes", self.scopes, &mut type_failures);
        let expires_in_days = nullable("expires_in_days", self.expires_in_days, &mut type_failures);
        let password = nullable("password", self.password, &mut type_failures);
        TokenDraft { name, scopes, expires_in_days, password, type_failures }
    }
}

/// A personal access token as its user sees it. The secret is never shown again after it is made.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalTokenResponse {
    pub id: i64,
    pub name: String,
    /// The scopes as granted (without those they imply).
    #[schema(value_type = Vec<ScopeSchema>)]
    pub scopes: Vec<&'static str>,
    /// The secret's first 12 characters (`wbp_` and 8 more), to tell tokens apart.
    #[schema(example = "wbp_3kTq9ZxA")]
    pub prefix: String,
    pub expires_at: DateTime<Utc>,
    /// When a request last used it, to within about a minute; `null` if never.
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<PersonalAccessToken> for PersonalTokenResponse {
    fn from(token: PersonalAccessToken) -> Self {
        Self {
            id: token.id.0,
            name: token.name,
            scopes: token.scopes.iter().map(|s| s.as_str()).collect(),
            prefix: token.prefix,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            created_at: token.created_at,
        }
    }
}

/// A token just made: the only answer that carries its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedPersonalTokenResponse {
    pub id: i64,
    pub name: String,
    #[schema(value_type = Vec<ScopeSchema>)]
    pub scopes: Vec<&'static str>,
    /// The secret, shown only here: `wbp_` and 43 base62 characters (256 bits). Send it as
    /// `Authorization: Bearer <token>`. The server keeps only its SHA-256.
    #[schema(pattern = "^wbp_[0-9A-Za-z]{43}$")]
    pub token: String,
    /// Its first 12 characters, as listings show them.
    pub prefix: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl From<IssuedToken> for CreatedPersonalTokenResponse {
    fn from(issued: IssuedToken) -> Self {
        let token = issued.token;
        Self {
            id: token.id.0,
            name: token.name,
            scopes: token.scopes.iter().map(|s| s.as_str()).collect(),
            token: issued.secret.expose().to_owned(),
            prefix: token.prefix,
            expires_at: token.expires_at,
            created_at: token.created_at,
        }
    }
}
