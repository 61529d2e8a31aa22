//! HTTP routes. Handlers are thin: extract, call one service method, map the result.

mod admin;
mod auth;
mod health;
mod tasks;
mod users;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

/// The versioned API, under `/api/v1`.
pub fn api(cfg: &mut ServiceConfig) {
    cfg.service(
        scope("/api/v1")
            .service(auth::register)
            .service(auth::login)
            .service(auth::refresh)
            .service(auth::logout)
            .service(auth::me)
            .service(auth::oauth_start)
            .service(auth::oauth_callback)
            .service(auth::totp_setup)
            .service(auth::totp_enable)
            .service(auth::totp_disable)
            .service(users::list)
            // Before `/users/{id}`, which would otherwise claim these paths.
            .service(users::except_me)
            .service(users::update_me)
            .service(users::change_password)
            .service(users::get)
            .service(admin::update_user)
            .service(admin::delete_user)
            .service(admin::audit)
            .service(tasks::create)
            .service(tasks::list)
            // Before `/tasks/{id}`.
            .service(tasks::stats)
            .service(tasks::get)
            .service(tasks::replace)
            .service(tasks::update)
            .service(tasks::remove)
            .service(tasks::comments)
            .service(tasks::add_comment)
            .service(tasks::delete_comment)
            .service(tasks::tags),
    );
}

/// Health, readiness and metrics, outside the versioned API.
pub fn operational(cfg: &mut ServiceConfig) {
    cfg.service(health::health).service(health::ready).service(health::metrics);
}
