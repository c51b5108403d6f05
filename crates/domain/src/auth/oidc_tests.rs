use std::sync::Arc;
use std::time::Duration;

use tabletalk_ports::fakes::{InMemoryStore, ManualClock, ScriptedIdentityProvider};
use tabletalk_ports::{Clock, PendingLoginRepository, VerifiedClaims};

use super::*;
use crate::{AuthMode, AuthSettings};

fn claims(email: &str, name: Option<&str>) -> VerifiedClaims {
    VerifiedClaims {
        issuer: "https://issuer.example".to_owned(),
        subject: "sub-1".to_owned(),
        email: Some(email.to_owned()),
        email_verified: true,
        name: name.map(str::to_owned),
        picture: Some("https://issuer.example/p.png".to_owned()),
    }
}

fn sign_in(
    require_referral: bool,
) -> (
    OidcSignIn,
    Arc<ScriptedIdentityProvider>,
    Arc<InMemoryStore>,
    Arc<ManualClock>,
) {
    let store = Arc::new(InMemoryStore::new());
    let clock = Arc::new(ManualClock::at_new_year());
    let provider = Arc::new(ScriptedIdentityProvider::default());
    let auth = Arc::new(AuthService::new(
        store.clone(),
        store.clone(),
        clock.clone(),
        AuthSettings {
            mode: AuthMode::Oidc,
            session_ttl: Duration::from_hours(1),
        },
    ));
    let settings = OidcSettings {
        require_referral,
        allowed_email_domains: Vec::new(),
    };
    let service = OidcSignIn::new(
        provider.clone(),
        store.clone(),
        store.clone(),
        auth,
        clock.clone(),
        settings,
    );
    (service, provider, store, clock)
}

fn state_of(url: &str) -> String {
    url.split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_name_falls_back_to_the_email_local_part_and_the_picture_is_kept() {
    let (service, provider, _, _) = sign_in(false);
    provider.will_return(claims("grace.hopper@example.com", None));
    let url = service.start(None).await.unwrap();
    let params = CallbackParams {
        code: Some("c".to_owned()),
        state: Some(state_of(&url)),
        error: None,
    };
    let issued = service.complete(&params).await.unwrap();
    assert_eq!(issued.user.name, "grace.hopper");
    assert_eq!(
        issued.user.avatar_url.as_deref(),
        Some("https://issuer.example/p.png")
    );
}

#[tokio::test]
async fn pending_sign_ins_expire_after_ten_minutes() {
    let (service, provider, store, clock) = sign_in(false);
    provider.will_return(claims("a@example.com", Some("A")));
    let url = service.start(Some("  ")).await.unwrap();
    clock.advance(Duration::from_mins(10));
    let params = CallbackParams {
        code: Some("c".to_owned()),
        state: Some(state_of(&url)),
        error: None,
    };
    assert!(matches!(
        service.complete(&params).await,
        Err(CallbackError::Rejected(CallbackRejection::OauthError))
    ));
    let swept = PendingLoginRepository::delete_expired(&*store, clock.now())
        .await
        .unwrap();
    assert_eq!(swept, 1, "the expired row is left for the hourly sweep");
}

#[tokio::test]
async fn an_unavailable_provider_stores_nothing() {
    let (service, provider, store, _) = sign_in(true);
    provider.set_unavailable(Some("discovery failed"));
    assert!(matches!(
        service.start(Some("key")).await,
        Err(StartSignInError::Unavailable(_))
    ));
    assert_eq!(store.calls("pending_logins.insert"), 0);
    assert_eq!(
        service.not_ready_reason().as_deref(),
        Some("discovery failed")
    );
}
