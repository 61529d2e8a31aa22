//! The HTTP layer, one module per domain, each holding that domain's handlers (`mod.rs`) and wire
//! types (`dto.rs`), beside the pieces every domain shares: extractors, problem documents, bodies
//! read leniently, pagination, preconditions (`ETag`/`If-Match`), idempotency keys and the
//! OpenAPI responses that many routes repeat. Handlers are thin: extract, call one service
//! method, map the result.

pub mod admin;
pub mod auth;
pub mod body;
pub mod chat;
pub mod extract;
pub mod files;
pub mod health;
pub mod idempotency;
pub mod integrations;
pub mod pagination;
pub mod preconditions;
pub mod problem;
pub mod products;
pub mod responses;
pub mod search;
pub mod tasks;
pub mod user_products;
pub mod users;
pub mod webhooks;

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
            .service(users::me)
            .service(users::update_me)
            .service(users::change_password)
            .service(users::get)
            .service(admin::update_user)
            .service(admin::delete_user)
            .service(admin::audit)
            .service(admin::dashboard)
            .service(admin::jobs::list)
            // Before `/admin/jobs/{id}`.
            .service(admin::jobs::runs)
            .service(admin::jobs::schedules)
            .service(admin::jobs::get)
            .service(admin::jobs::retry)
            .service(admin::jobs::cancel)
            .service(webhooks::inbound)
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
            .service(tasks::tags)
            .service(files::upload_to_task)
            .service(files::task_attachments)
            .service(products::list_categories)
            .service(products::get_category)
            .service(products::create_category)
            .service(products::update_category)
            .service(products::delete_category)
            .service(products::list)
            // Before `/products/{id}`.
            .service(products::search)
            .service(products::get)
            .service(products::create)
            .service(products::replace)
            .service(products::update)
            .service(products::remove)
            .service(user_products::list)
            // Before `/user-products/{id}`.
            .service(user_products::warranty)
            .service(user_products::create)
            .service(user_products::get)
            .service(user_products::replace)
            .service(user_products::update)
            .service(user_products::remove)
            .service(files::upload_to_user_product)
            .service(files::user_product_files)
            .service(files::upload)
            // Before `/files/{id}`.
            .service(files::render_pdf)
            .service(files::get)
            .service(files::download)
            .service(files::thumbnail)
            .service(files::remove)
            .service(integrations::weather)
            .service(integrations::crypto)
            .service(integrations::translate)
            .service(search::search)
            .service(webhooks::github)
            .service(webhooks::stripe)
            .service(webhooks::subscribe)
            .service(webhooks::subscriptions)
            .service(webhooks::unsubscribe)
            .service(webhooks::deliveries)
            .service(chat::rooms)
            .service(chat::create_room)
            .service(chat::add_member)
            .service(chat::room_messages)
            .service(chat::direct_messages),
    );
}

/// Health, readiness and metrics, outside the versioned API.
pub fn operational(cfg: &mut ServiceConfig) {
    cfg.service(health::health).service(health::ready).service(health::metrics);
}
