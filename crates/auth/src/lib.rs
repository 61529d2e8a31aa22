//! Credential adapters: bcrypt for passwords, HS256 JWTs for access tokens.
//!
//! These implement the [`PasswordHasher`](workbench_users::PasswordHasher) and
//! [`TokenIssuer`](workbench_users::TokenIssuer) ports of the accounts domain.

mod jwt;
mod password;

pub use jwt::{JwtIssuer, JwtSettings};
pub use password::BcryptHasher;
