use std::sync::Arc;
use std::time::Duration;

use tabletalk_ports::fakes::{InMemoryStore, ManualClock};
use tabletalk_ports::{Clock, RepositoryError, SessionRepository};

use super::*;

const TTL: Duration = Duration::from_hours(7 * 24);

fn service(key: &str) -> (AuthService, Arc<InMemoryStore>, Arc<ManualClock>) {
    let store = Arc::new(InMemoryStore::new());
    let clock = Arc::new(ManualClock::at_new_year());
    let settings = AuthSettings {
        mode: AuthMode::Local {
            access_key_hash: sha256(key.as_bytes()),
        },
        session_ttl: TTL,
    };
    (
        AuthService::new(store.clone(), store.clone(), clock.clone(), settings),
        store,
        clock,
    )
}

#[tokio::test]
async fn the_access_key_signs_in_the_local_user_and_the_token_authenticates() {
    let (auth, _, _) = service("correct-horse-battery");
    let issued = auth
        .dev_login("  correct-horse-battery \n", "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(issued.user.email, "local@localhost");
    let who = auth.authenticate(&issued.token).await.unwrap();
    assert_eq!(who.user.id, issued.user.id);
    assert!(!who.extended);
    let again = auth
        .dev_login("correct-horse-battery", "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(
        again.user.id, issued.user.id,
        "one local user, several sessions"
    );
    assert_ne!(again.token, issued.token);
}

#[tokio::test]
async fn wrong_keys_are_refused_then_throttled() {
    let (auth, _, clock) = service("correct-horse-battery");
    for _ in 0..10 {
        assert!(matches!(
            auth.dev_login("guess", "10.0.0.1").await,
            Err(DevLoginError::InvalidKey)
        ));
    }
    let locked = auth.dev_login("correct-horse-battery", "10.0.0.1").await;
    assert!(
        matches!(
            locked,
            Err(DevLoginError::TooManyAttempts {
                retry_after_secs: 600
            })
        ),
        "{locked:?}"
    );
    clock.advance(Duration::from_mins(10));
    assert!(
        auth.dev_login("correct-horse-battery", "10.0.0.1")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn sessions_slide_at_most_once_a_minute_and_expire() {
    let (auth, store, clock) = service("correct-horse-battery");
    let issued = auth.dev_login("correct-horse-battery", "c").await.unwrap();

    clock.advance(Duration::from_secs(59));
    assert!(!auth.authenticate(&issued.token).await.unwrap().extended);
    assert_eq!(
        store.calls("sessions.extend"),
        0,
        "nothing is written within the minute"
    );

    clock.advance(Duration::from_secs(1));
    assert!(auth.authenticate(&issued.token).await.unwrap().extended);
    let session = store
        .find_by_token_hash(&issued.token.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.expires_at, clock.now() + TTL);

    clock.advance(TTL);
    assert!(matches!(
        auth.authenticate(&issued.token).await,
        Err(AuthError::NotAuthenticated)
    ));
    assert_eq!(
        store
            .find_by_token_hash(&issued.token.hash())
            .await
            .unwrap(),
        None,
        "expired row deleted"
    );
}

#[tokio::test]
async fn logout_ends_only_the_presented_session() {
    let (auth, _, _) = service("correct-horse-battery");
    let first = auth.dev_login("correct-horse-battery", "c").await.unwrap();
    let second = auth.dev_login("correct-horse-battery", "c").await.unwrap();
    let who = auth.authenticate(&first.token).await.unwrap();
    auth.logout(who.session_id).await.unwrap();
    assert!(matches!(
        auth.authenticate(&first.token).await,
        Err(AuthError::NotAuthenticated)
    ));
    assert!(auth.authenticate(&second.token).await.is_ok());
}

#[tokio::test]
async fn oidc_mode_has_no_local_sign_in_and_storage_failures_surface() {
    let store = Arc::new(InMemoryStore::new());
    let settings = AuthSettings {
        mode: AuthMode::Oidc,
        session_ttl: TTL,
    };
    let auth = AuthService::new(
        store.clone(),
        store.clone(),
        Arc::new(ManualClock::at_new_year()),
        settings,
    );
    assert!(matches!(
        auth.dev_login("anything", "c").await,
        Err(DevLoginError::NotLocalMode)
    ));
    store.set_unavailable(true);
    let token = SessionToken::presented("x".repeat(43));
    assert!(matches!(
        auth.authenticate(&token).await,
        Err(AuthError::Storage(RepositoryError::Unavailable(_)))
    ));
}
