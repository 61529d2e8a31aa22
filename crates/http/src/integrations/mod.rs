//! Third-party data: current weather, crypto prices and translations, cached and resilient (see
//! `workbench_integrations::IntegrationService`). Each handler is one call.

use actix_web::{get, web};
use workbench_integrations::{
    AccountId, Price, PriceRequest, Translation, TranslationRequest, Weather, WeatherRequest,
};

mod errors;

use crate::extract::{CurrentUser, Query};
use crate::groups::Routes;
use crate::problem::{ApiError, Problem};
use crate::responses::{BadRequest, NotFound, Unauthorized, Unprocessable};
use crate::state::AppState;

/// This domain's routes.
pub fn routes(routes: &mut Routes<'_, '_>) {
    if let Some(cfg) = routes.under("/weather") {
        cfg.service(weather);
    }
    if let Some(cfg) = routes.under("/crypto") {
        cfg.service(crypto);
    }
    if let Some(cfg) = routes.under("/translate") {
        cfg.service(translate);
    }
}

/// Current weather in a city, from Open-Meteo: cached for `INTEGRATIONS_CACHE_TTL` (`cached`);
/// when the provider fails, the last good answer up to 24 h old (`stale`).
#[utoipa::path(
    tag = "integrations",
    operation_id = "get_weather",
    security(("bearer_auth" = ["session"])),
    params(WeatherRequest),
    responses(
        (status = 200, body = Weather),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, description = "The provider knows no such city", body = Problem, content_type = "application/problem+json"),
        (status = 422, response = Unprocessable),
        (status = 502, description = "The provider failed and nothing is cached (`type` ending in `provider-unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The weather provider is not configured", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/weather")]
pub async fn weather(
    state: web::Data<AppState>,
    _caller: CurrentUser,
    query: Query<WeatherRequest>,
) -> Result<web::Json<Weather>, ApiError> {
    Ok(web::Json(state.integrations.weather(query.into_inner()).await?))
}

/// A crypto currency's price from CoinGecko (`currency` defaults to `usd`), cached like the weather.
#[utoipa::path(
    tag = "integrations",
    operation_id = "get_crypto_price",
    security(("bearer_auth" = ["session"])),
    params(PriceRequest),
    responses(
        (status = 200, body = Price),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, description = "A bad symbol or an unsupported currency", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider failed and nothing is cached (`type` ending in `provider-unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The price provider is not configured", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/crypto")]
pub async fn crypto(
    state: web::Data<AppState>,
    _caller: CurrentUser,
    query: Query<PriceRequest>,
) -> Result<web::Json<Price>, ApiError> {
    Ok(web::Json(state.integrations.price(query.into_inner()).await?))
}

/// A translation by DeepL or LibreTranslate (`TRANSLATE_PROVIDER`); `from` is detected when left out.
///
/// Each account may have `TRANSLATE_CHARS_PER_HOUR` characters translated in an hour (by every
/// instance together); a text is charged its characters only when the provider is asked, never
/// for an answer from the cache.
#[utoipa::path(
    tag = "integrations",
    operation_id = "translate",
    security(("bearer_auth" = ["session"])),
    params(TranslationRequest),
    responses(
        (status = 200, body = Translation),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 422, description = "Invalid parameters, every one listed in `errors`; also a `text` longer than the whole hourly budget of characters", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited, or (`type` ending in `translation-budget-exhausted`) this account's characters for the hour are spent: this text fits again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(
                ("Retry-After" = u64, description = "Whole seconds until the request would be let through"),
                ("RateLimit-Limit" = u32, description = "Requests per minute of the caller's request bucket"),
                ("RateLimit-Remaining" = u32, description = "Requests left in that bucket"),
                ("RateLimit-Reset" = u64, description = "Whole seconds until that bucket is full again")
            )),
        (status = 502, description = "The provider failed and nothing is cached (`type` ending in `provider-unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No translation provider is configured (DeepL needs `TRANSLATE_API_KEY`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/translate")]
pub async fn translate(
    state: web::Data<AppState>,
    caller: CurrentUser,
    query: Query<TranslationRequest>,
) -> Result<web::Json<Translation>, ApiError> {
    let account = AccountId(caller.0.id.0);
    Ok(web::Json(state.integrations.translate(account, query.into_inner()).await?))
}
