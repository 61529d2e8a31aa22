//! The OpenID Connect providers as the operator configures them: `OIDC_PROVIDERS=keycloak,corp-sso`
//! names them, and each name's variables (`OIDC_KEYCLOAK_ISSUER`, `OIDC_CORP_SSO_CLIENT_ID`: the
//! name in upper case, `-` as `_`) say the rest. Read here, beside the provider, so that every
//! program embedding the domain reads them the same way.

use std::collections::BTreeMap;

use workbench_users::{OAuthProviderName, Role};

use crate::OidcSettings;

/// The scopes asked for when `OIDC_<NAME>_SCOPES` is not set.
pub const DEFAULT_OIDC_SCOPES: &str = "openid email profile";

/// The providers `names` lists (comma- or space-separated), each read from `env` (the
/// `OIDC_<NAME>_*` variables), with the callback URL `redirect_url` gives for its name. Refuses,
/// naming the variable, a malformed or repeated name, a missing issuer, client id or secret, and
/// a role map that cannot be read or would grant `super_admin`.
pub fn oidc_providers_from(
    names: &str,
    env: &BTreeMap<String, String>,
    redirect_url: impl Fn(&str) -> String,
) -> anyhow::Result<Vec<OidcSettings>> {
    let mut providers: Vec<OidcSettings> = Vec::new();
    for name in names.split([',', ' ']).map(str::trim).filter(|n| !n.is_empty()) {
        let name = name.to_ascii_lowercase();
        anyhow::ensure!(
            OAuthProviderName::is_valid_oidc_name(&name),
            "OIDC_PROVIDERS: {name:?} cannot name a provider (1 to 32 of a-z, 0-9 and inner '-', not google or github)"
        );
        anyhow::ensure!(providers.iter().all(|p| p.name != name), "OIDC_PROVIDERS names {name:?} twice");
        let prefix = format!("OIDC_{}_", name.to_ascii_uppercase().replace('-', "_"));
        let var = |field: &str| env.get(&format!("{prefix}{field}")).map(|v| v.trim()).filter(|v| !v.is_empty());
        let required = |field: &str| {
            var(field).map(str::to_owned).ok_or_else(|| anyhow::anyhow!("{prefix}{field} must be set for {name:?}"))
        };
        let role_claim = var("ROLE_CLAIM").map(str::to_owned);
        let role_map = match var("ROLE_MAP") {
            Some(map) => role_map(map).map_err(|why| anyhow::anyhow!("{prefix}ROLE_MAP: {why}"))?,
            None => Vec::new(),
        };
        anyhow::ensure!(role_map.is_empty() || role_claim.is_some(), "{prefix}ROLE_MAP needs {prefix}ROLE_CLAIM");
        providers.push(OidcSettings {
            display_name: var("DISPLAY_NAME").map_or_else(|| name.clone(), str::to_owned),
            issuer: required("ISSUER")?,
            client_id: required("CLIENT_ID")?,
            client_secret: required("CLIENT_SECRET")?,
            scopes: var("SCOPES")
                .unwrap_or(DEFAULT_OIDC_SCOPES)
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            role_claim,
            role_map,
            redirect_url: redirect_url(&name),
            name,
        });
    }
    Ok(providers)
}

/// `wb-admins=admin,wb-mods=moderator`: which claim value gives which role.
fn role_map(text: &str) -> Result<Vec<(String, Role)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (value, role) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not value=role"))?;
            let role = Role::parse(role.trim()).map_err(|why| format!("{pair:?}: the role {why}"))?;
            if role == Role::SuperAdmin {
                return Err(format!("{pair:?}: no claim may grant super_admin"));
            }
            Ok((value.trim().to_owned(), role))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    const CORP: &[(&str, &str)] = &[
        ("OIDC_CORP_SSO_ISSUER", "https://id.example/realms/corp"),
        ("OIDC_CORP_SSO_CLIENT_ID", "workbench"),
        ("OIDC_CORP_SSO_CLIENT_SECRET", "s3cret"),
    ];

    #[test]
    fn providers_are_read_by_name_with_defaults() {
        let mut vars = CORP.to_vec();
        vars.extend([
            ("OIDC_CORP_SSO_ROLE_CLAIM", "groups"),
            ("OIDC_CORP_SSO_ROLE_MAP", "wb-admins=admin, wb-mods=moderator"),
        ]);
        let found = oidc_providers_from("corp-sso", &env(&vars), |n| format!("https://wb/{n}")).unwrap();
        let corp = &found[0];
        assert_eq!((corp.name.as_str(), corp.display_name.as_str()), ("corp-sso", "corp-sso"));
        assert_eq!(corp.scopes, ["openid", "email", "profile"]);
        assert_eq!(corp.redirect_url, "https://wb/corp-sso");
        assert_eq!(corp.role_map, [("wb-admins".to_owned(), Role::Admin), ("wb-mods".to_owned(), Role::Moderator)]);
        assert!(oidc_providers_from("", &env(&[]), |n| n.to_owned()).unwrap().is_empty());
    }

    #[test]
    fn mistakes_are_refused_naming_the_variable() {
        let refused = |names: &str, extra: &[(&str, &str)], skip: &str| {
            let mut vars: Vec<(&str, &str)> = CORP.iter().copied().filter(|(k, _)| *k != skip).collect();
            vars.extend_from_slice(extra);
            oidc_providers_from(names, &env(&vars), |n| n.to_owned()).unwrap_err().to_string()
        };
        assert!(refused("corp-sso", &[], "OIDC_CORP_SSO_CLIENT_SECRET").contains("OIDC_CORP_SSO_CLIENT_SECRET"));
        assert!(refused("google", &[], "").contains("google"));
        assert!(refused("corp-sso,corp-sso", &[], "").contains("twice"));
        assert!(refused("corp-sso", &[("OIDC_CORP_SSO_ROLE_MAP", "a=admin")], "").contains("ROLE_CLAIM"));
        let super_admin = [("OIDC_CORP_SSO_ROLE_CLAIM", "groups"), ("OIDC_CORP_SSO_ROLE_MAP", "a=super_admin")];
        assert!(refused("corp-sso", &super_admin, "").contains("super_admin"));
        let unknown = [("OIDC_CORP_SSO_ROLE_CLAIM", "groups"), ("OIDC_CORP_SSO_ROLE_MAP", "a=boss")];
        assert!(refused("corp-sso", &unknown, "").contains("ROLE_MAP"));
    }
}
